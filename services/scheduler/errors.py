"""Domain errors of the scheduler; each carries the code the caller receives."""

from ignis.contracts.base import ErrorCode
from ignis.kit.errors import NotFound, ServiceError


class AppointmentNotFound(NotFound):
    pass


class TooLate(ServiceError):
    code = ErrorCode.too_late


class InvalidSlot(ServiceError):
    code = ErrorCode.invalid_slot


class AppointmentChanged(ServiceError):
    """FHIR record mode: someone else changed the appointment's time, practitioner, visit type or status on
    the practice's server since it was read; nothing was written, the caller is told it changed."""

    code = ErrorCode.conflict


class SlotAlreadyTaken(Exception):
    """The exclusion constraint refused the time: another booking overlaps it."""


class DuplicateBooking(Exception):
    """The same booking call was already stored (a retry that raced its original)."""
