"""Domain errors of the scheduler; each carries the code the caller receives."""

from ignis.contracts.base import ErrorCode
from ignis.kit.errors import ServiceError


class NotVerified(ServiceError):
    code = ErrorCode.not_verified


class AppointmentNotFound(ServiceError):
    code = ErrorCode.not_found


class TooLate(ServiceError):
    code = ErrorCode.too_late


class InvalidSlot(ServiceError):
    code = ErrorCode.invalid_slot


class InvalidCursor(ServiceError):
    code = ErrorCode.invalid_request


class PatientsUnavailable(ServiceError):
    code = ErrorCode.unavailable


class SlotAlreadyTaken(Exception):
    """The exclusion constraint refused the time: another booking overlaps it."""


class DuplicateBooking(Exception):
    """The same booking call was already stored (a retry that raced its original)."""
