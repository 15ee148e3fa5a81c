"""Logging never carries exception text (which may hold patient data), and the PII guard catches leaks."""

import json
import logging

import pytest

from ignis.kit.logging import RedactingFormatter, redacted_traceback
from tests.factories import MUELLER
from tests.pii import assert_no_pii


def _raise_chained() -> None:
    try:
        raise ValueError(f"DETAIL: Key (phone)=({MUELLER.phone}) already exists")
    except ValueError as exc:
        raise RuntimeError(f"insert failed for {MUELLER.last_name}") from exc


class TestRedactedTraceback:
    def test_keeps_types_and_places_but_no_message(self) -> None:
        with pytest.raises(RuntimeError) as info:
            _raise_chained()
        text = redacted_traceback(info.value)
        assert "builtins.RuntimeError" in text
        assert "caused by builtins.ValueError" in text
        assert "_raise_chained" in text
        assert MUELLER.phone not in text
        assert MUELLER.last_name not in text


class TestRedactingFormatter:
    def _record(self, **extra: object) -> logging.LogRecord:
        try:
            _raise_chained()
        except RuntimeError:
            record = logging.getLogger("t").makeRecord(
                "t", logging.ERROR, __file__, 1, "insert failed", (), None
            )
            record.exc_info = __import__("sys").exc_info()
        record.__dict__.update(extra)
        return record

    def test_json_line_with_context_and_redacted_error(self) -> None:
        line = RedactingFormatter("patients", json_lines=True).format(self._record(conversation_id="conv-7"))
        entry = json.loads(line)
        assert (entry["service"], entry["msg"], entry["conversation_id"]) == (
            "patients",
            "insert failed",
            "conv-7",
        )
        assert "RuntimeError" in entry["error"]
        assert MUELLER.phone not in line

    def test_text_line(self) -> None:
        line = RedactingFormatter("gateway", json_lines=False).format(self._record())
        assert "ERROR" in line
        assert "gateway insert failed" in line
        assert MUELLER.last_name not in line


class TestExceptionTextInTheMessage:
    def test_is_redacted_too(self) -> None:
        try:
            raise ValueError(f"input_value={MUELLER.last_name}")
        except ValueError as exc:
            record = logging.getLogger("faststream").makeRecord(
                "faststream",
                logging.ERROR,
                __file__,
                1,
                f"ValueError: {exc}",
                (),
                (type(exc), exc, exc.__traceback__),
            )
        line = RedactingFormatter("patients", json_lines=True).format(record)
        assert MUELLER.last_name not in line
        assert "ValueError: <redacted>" in line


class TestPiiGuard:
    """The guard that every test runs must itself be able to fail."""

    @pytest.mark.parametrize(
        "leak",
        [MUELLER.last_name, MUELLER.birth_date.isoformat(), "12.03.1980", MUELLER.phone, "015123456789"],
    )
    def test_catches_a_leak(self, leak: str) -> None:
        record = logging.makeLogRecord({"msg": "looked up %s", "args": (leak,)})
        with pytest.raises(AssertionError, match="patient data"):
            assert_no_pii([record])

    def test_catches_a_leak_in_structured_context(self) -> None:
        record = logging.makeLogRecord({"msg": "ok", "caller": MUELLER.phone})
        with pytest.raises(AssertionError):
            assert_no_pii([record])

    def test_passes_clean_records(self) -> None:
        assert_no_pii([logging.makeLogRecord({"msg": "identified", "conversation_id": "conv-1"})])
