"""Bus entry points of the scheduler: translation and dependency injection only."""

import uuid
from typing import Annotated

from faststream import Depends
from faststream.nats import NatsBroker, NatsRouter
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.contracts import subjects
from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.patients import (
    ErasePatient,
    PatientErased,
    PatientErasedHere,
    PatientRefResolved,
    ResolvePatientRef,
)
from ignis.contracts.scheduling import (
    AppointmentConfirmed,
    AppointmentList,
    BookAppointment,
    CancelAppointment,
    CancellationConfirmed,
    DayAppointments,
    FindSlots,
    GetPracticeInfo,
    ListAppointments,
    ListDayAppointments,
    ListPatientAppointments,
    NoSlotsFound,
    PatientCommand,
    PracticeInfo,
    RescheduleAppointment,
    RescheduleConfirmed,
    SlotsOffered,
    SlotTaken,
    StaffCancelAppointment,
    StaffRescheduleAppointment,
    VisitTypeUnknown,
)
from ignis.kit.bus import ask, responder
from ignis.kit.clock import utcnow
from ignis.kit.context import Broker, Context
from ignis.kit.db import Session
from ignis.kit.erasure import subscribe_erasures
from ignis.kit.errors import NotVerified, Unavailable
from ignis.scheduler import fhir_records, service
from ignis.scheduler.calendar import Calendar
from ignis.scheduler.fhir_records import FhirCalendar
from ignis.scheduler.repository import AppointmentRepository

router = NatsRouter()
responds = responder(router, "scheduler")
# Well inside the gateway's budget, so the caller hears `unavailable` rather than the gateway timing out.
PATIENTS_TIMEOUT_SECONDS = 2.0
_RESOLVED: TypeAdapter[PatientRefResolved | ErrorReply] = TypeAdapter(PatientRefResolved | ErrorReply)


async def get_repository(
    session: Session, fhir: FhirCalendar | None = Context("fhir_calendar", default=None)
) -> AppointmentRepository:
    return fhir_records.repository(session, fhir)


Repository = Annotated[AppointmentRepository, Depends(get_repository)]
CalendarDep = Annotated[Calendar, Context("calendar")]


async def verified_patient(cmd: PatientCommand, broker: NatsBroker, repo: AppointmentRepository) -> uuid.UUID:
    """Ask the patients service whose ref this is; only a ref verified in this conversation acts.

    No answer in time raises `Unavailable`, which the caller hears as such.
    """
    query = ResolvePatientRef(conversation_id=cmd.conversation_id, patient_ref=cmd.patient_ref)
    reply = await ask(broker, query, subjects.PATIENTS_RESOLVE_REF, _RESOLVED, PATIENTS_TIMEOUT_SECONDS)
    if isinstance(reply, PatientRefResolved):
        patient_id = uuid.UUID(reply.patient_id)
        repo.know_patient(patient_id, reply.fhir_patient_id)
        return patient_id
    if reply.code is ErrorCode.not_verified:
        raise NotVerified("ref not valid in this conversation")
    raise Unavailable("patients service failed")


@responds(subjects.SCHEDULER_FIND_SLOTS)
async def find_slots(
    cmd: FindSlots, repo: Repository, calendar: CalendarDep
) -> SlotsOffered | NoSlotsFound | VisitTypeUnknown | ErrorReply:
    return await service.find_slots(repo, calendar, cmd, utcnow())


@responds(subjects.SCHEDULER_BOOK)
async def book_appointment(
    cmd: BookAppointment, repo: Repository, calendar: CalendarDep, broker: Broker
) -> AppointmentConfirmed | SlotTaken:
    patient_id = await verified_patient(cmd, broker, repo)
    return await service.book(repo, calendar, cmd, patient_id, utcnow())


@responds(subjects.SCHEDULER_LIST)
async def list_appointments(
    cmd: ListAppointments, repo: Repository, calendar: CalendarDep, broker: Broker
) -> AppointmentList:
    patient_id = await verified_patient(cmd, broker, repo)
    return await service.list_appointments(repo, calendar, patient_id, utcnow())


@responds(subjects.SCHEDULER_CANCEL)
async def cancel_appointment(
    cmd: CancelAppointment, repo: Repository, calendar: CalendarDep, broker: Broker
) -> CancellationConfirmed:
    patient_id = await verified_patient(cmd, broker, repo)
    return await service.cancel(repo, calendar, cmd.appointment_id, patient_id, utcnow())


@responds(subjects.SCHEDULER_RESCHEDULE)
async def reschedule_appointment(
    cmd: RescheduleAppointment, repo: Repository, calendar: CalendarDep, broker: Broker
) -> RescheduleConfirmed | SlotTaken:
    patient_id = await verified_patient(cmd, broker, repo)
    return await service.reschedule(repo, calendar, cmd, patient_id, utcnow())


@responds(subjects.SCHEDULER_PATIENT_APPOINTMENTS)
async def patient_appointments(
    query: ListPatientAppointments, repo: Repository, calendar: CalendarDep
) -> AppointmentList:
    return await service.list_appointments(repo, calendar, query.patient_id, utcnow())


@responds(subjects.SCHEDULER_STAFF_CANCEL)
async def staff_cancel(
    cmd: StaffCancelAppointment, repo: Repository, calendar: CalendarDep
) -> CancellationConfirmed:
    return await service.cancel(repo, calendar, cmd.appointment_id, None, utcnow())


@responds(subjects.SCHEDULER_STAFF_RESCHEDULE)
async def staff_reschedule(
    cmd: StaffRescheduleAppointment, repo: Repository, calendar: CalendarDep
) -> RescheduleConfirmed | SlotTaken:
    return await service.reschedule(repo, calendar, cmd, None, utcnow())


@responds(subjects.SCHEDULER_PRACTICE_INFO)
async def practice_info(cmd: GetPracticeInfo, calendar: CalendarDep) -> PracticeInfo:
    return service.practice_info(calendar, cmd, utcnow())


@responds(subjects.SCHEDULER_DAY)
async def day_appointments(
    query: ListDayAppointments, repo: Repository, calendar: CalendarDep
) -> DayAppointments:
    return await service.day_appointments(repo, calendar, query)


async def _erase(session: AsyncSession, erasure: PatientErased | ErasePatient) -> dict[str, int]:
    """Their appointments, and the appointment events naming them that the outbox still keeps."""
    repo = AppointmentRepository(session)
    appointments = await repo.erase_patient(erasure.patient_id)
    return {"appointments": appointments, "events": await repo.erase_events(erasure.patient_id)}


subscribe_erasures(
    router,
    event=(subjects.PATIENT_ERASED, PatientErased),
    durable=subjects.SCHEDULER_ERASURES_CONSUMER,
    command=(subjects.erase_patient("scheduler"), ErasePatient),
    responds=responds,
    reply=PatientErasedHere,
    erase=_erase,
)
