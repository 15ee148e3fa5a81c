"""When a reminder is due: the same wall-clock time before the appointment, DST or not, and never in the
practice's quiet hours (default 21:00 to 08:00)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ignis.notifier.service import in_quiet_hours, reminder_due
from ignis.practice.config import DEMO_PRACTICE, Practice, load_practice

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def practice() -> Practice:
    return load_practice(DEMO_PRACTICE)


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


class TestReminderDue:
    def test_day_before_same_time(self, practice: Practice) -> None:
        assert reminder_due(berlin(2026, 12, 3, 9, 30), 24, practice) == berlin(2026, 12, 2, 9, 30)

    def test_spring_forward(self, practice: Practice) -> None:
        # Sunday 29 March 2026 the clocks go 02:00 → 03:00; Saturday 10:00 is CET, Sunday 10:00 CEST.
        due = reminder_due(berlin(2026, 3, 29, 10, 0), 24, practice)
        assert due.astimezone(BERLIN).replace(tzinfo=None) == dt.datetime(2026, 3, 28, 10, 0)
        assert due == dt.datetime(2026, 3, 28, 9, 0, tzinfo=dt.UTC)  # 23 elapsed hours

    def test_fall_back(self, practice: Practice) -> None:
        # Sunday 25 October 2026 the clocks go 03:00 → 02:00.
        due = reminder_due(berlin(2026, 10, 26, 9, 0), 48, practice)
        assert due.astimezone(BERLIN).replace(tzinfo=None) == dt.datetime(2026, 10, 24, 9, 0)
        assert due == dt.datetime(2026, 10, 24, 7, 0, tzinfo=dt.UTC)  # 49 elapsed hours

    def test_early_appointment_reminded_the_evening_before(self, practice: Practice) -> None:
        # 24 hours before a 07:30 appointment is 07:30, inside the quiet hours: 20:30 the evening before.
        assert reminder_due(berlin(2026, 12, 3, 7, 30), 24, practice) == berlin(2026, 12, 1, 20, 30)

    def test_late_evening_moves_earlier_the_same_day(self, practice: Practice) -> None:
        assert reminder_due(berlin(2026, 12, 3, 22, 0), 24, practice) == berlin(2026, 12, 2, 20, 30)

    def test_short_reminder_before_an_early_appointment(self, practice: Practice) -> None:
        # Two hours before 09:00 is 07:00: quiet, so 20:30 the evening before, never after the start.
        assert reminder_due(berlin(2026, 12, 3, 9, 0), 2, practice) == berlin(2026, 12, 2, 20, 30)

    def test_edges_of_the_quiet_hours(self, practice: Practice) -> None:
        assert reminder_due(berlin(2026, 12, 3, 8, 0), 24, practice) == berlin(2026, 12, 2, 8, 0)
        assert reminder_due(berlin(2026, 12, 3, 20, 59), 24, practice) == berlin(2026, 12, 2, 20, 59)
        assert reminder_due(berlin(2026, 12, 3, 21, 0), 24, practice) == berlin(2026, 12, 2, 20, 30)

    @pytest.mark.parametrize("hour", range(24))
    def test_never_due_in_the_quiet_hours(self, practice: Practice, hour: int) -> None:
        for start in (berlin(2026, 3, 29, hour, 15) if hour not in (2,) else berlin(2026, 3, 30, hour, 15),):
            due = reminder_due(start, 24, practice).astimezone(BERLIN)
            assert not in_quiet_hours(due.time(), practice)
            assert due < start


def test_quiet_hours_within_a_day(tmp_path: object) -> None:
    practice = load_practice(DEMO_PRACTICE).model_copy(
        update={
            "sms": load_practice(DEMO_PRACTICE).sms.model_copy(
                update={"quiet_from": dt.time(12), "quiet_until": dt.time(14)}
            )
        }
    )
    assert in_quiet_hours(dt.time(13), practice)
    assert not in_quiet_hours(dt.time(14), practice)
    assert not in_quiet_hours(dt.time(22), practice)
