"""The only package of the scheduler that runs SQL. It flushes, never commits.

Two repositories: `AppointmentRepository` (`appointments`), the appointments in Ignis' own record mode (one
implementation of the `records.AppointmentRecords` port; `fhir_records.FhirAppointments` is the other), and
`WaitlistRepository` (`waitlist`), what is Ignis' business in both record modes: the waiting list, the
slots held from it, and the outbox. `statements` holds the SQL both share."""

from ignis.scheduler.repository.appointments import AppointmentRepository, Upcoming
from ignis.scheduler.repository.statements import Holds
from ignis.scheduler.repository.waitlist import WaitlistRepository

__all__ = ["AppointmentRepository", "Holds", "Upcoming", "WaitlistRepository"]
