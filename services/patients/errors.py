"""Domain errors of the patients service; each carries the code the caller receives."""

from ignis.contracts.base import ErrorCode
from ignis.kit.errors import ServiceError


class InvalidPhone(ServiceError):
    code = ErrorCode.invalid_phone


class NotVerified(ServiceError):
    code = ErrorCode.not_verified


class CallNotFound(ServiceError):
    code = ErrorCode.not_found


class InvalidCursor(ServiceError):
    code = ErrorCode.invalid_request


class RequestNotFound(ServiceError):
    code = ErrorCode.not_found


class RequestConflict(ServiceError):
    """Claimed by someone else, or already done."""

    code = ErrorCode.conflict
