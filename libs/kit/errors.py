"""The base of every domain error; the bus turns it into an `ErrorReply` with the error's code."""

from typing import ClassVar

from ignis.contracts.base import ErrorCode


class ServiceError(Exception):
    """A business outcome that aborts the unit of work: the session rolls back, the caller gets `code`.

    `message` must never carry patient data: it is logged and sent over the bus.
    """

    code: ClassVar[ErrorCode] = ErrorCode.internal

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


# Outcomes every service has; a service subclasses them only where its own name says more.


class NotFound(ServiceError):
    code = ErrorCode.not_found


class NotVerified(ServiceError):
    """The patient_ref is unknown, expired or from another conversation."""

    code = ErrorCode.not_verified


class InvalidCursor(ServiceError):
    code = ErrorCode.invalid_request


class Unavailable(ServiceError):
    """Another service did not answer in time (or NATS is away)."""

    code = ErrorCode.unavailable
