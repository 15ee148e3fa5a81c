"""Domain errors of the notifier; each carries the code the caller receives."""

from ignis.contracts.base import ErrorCode
from ignis.kit.errors import ServiceError


class MessageConflict(ServiceError):
    """Only a failed message can be sent again."""

    code = ErrorCode.conflict
