"""Domain errors of the patients service; each carries the code the caller receives."""

from ignis.contracts.base import ErrorCode
from ignis.kit.errors import NotFound, ServiceError


class InvalidPhone(ServiceError):
    code = ErrorCode.invalid_phone


class CallNotFound(NotFound):
    pass


class RequestNotFound(NotFound):
    pass


class RequestConflict(ServiceError):
    """Claimed by someone else, or already done."""

    code = ErrorCode.conflict
