"""The slot engine: breaks, grid and step, holidays per Bundesland, closures, DST, re-validation."""

import base64
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ignis.language.spoken import spoken_date, spoken_ranges, spoken_time
from ignis.practice.config import Practice, load_practice
from ignis.scheduler.calendar import Calendar
from ignis.scheduler.slots import Slot, parse_slot_id, slot_id, spoken_slot

BERLIN = ZoneInfo("Europe/Berlin")
WORKDAYS = ("mo", "di", "mi", "do", "fr")
WEBER_HOURS = ["08:00-12:00", "14:00-18:00"]
TUESDAY = date(2026, 12, 1)
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=BERLIN)  # well before the days the tests look at


def weekly(ranges: list[str]) -> dict[str, list[str]]:
    return {day: list(ranges) for day in WORKDAYS}


def practice(**overrides: Any) -> Practice:
    """A small practice: Weber works 8-12 and 14-18, Yilmaz 8:30-12:30, Monday to Friday."""
    data: dict[str, Any] = {
        "name": "Testpraxis",
        "address": {"street": "Teststraße 1", "postal_code": "10115", "city": "Berlin"},
        "phone": "+49 30 000000",
        "bundesland": "BE",
        "opening_hours": weekly(WEBER_HOURS),
        "practitioners": [
            {"id": "weber", "name": "Dr. Weber", "hours": weekly(WEBER_HOURS)},
            {"id": "yilmaz", "name": "Dr. Yilmaz", "hours": weekly(["08:30-12:30"])},
        ],
        "visit_types": [
            {"id": "akut", "name": "Akutsprechstunde", "minutes": 10},
            {"id": "vorsorge", "name": "Vorsorge", "minutes": 30},
            {"id": "kurz", "name": "Kurz", "minutes": 5},
            {"id": "erst", "name": "Erstgespräch", "minutes": 20, "practitioners": ["weber"]},
            {"id": "zwoelf", "name": "Zwölf Minuten", "minutes": 12},
        ],
        "booking": {"min_notice_minutes": 60, "horizon_days": 90, "grid_minutes": 5},
    }
    data.update(overrides)
    return Practice.model_validate(data)


def with_practitioner(extra: dict[str, Any], **overrides: Any) -> Practice:
    """The small practice plus one more practitioner, e.g. one with Saturday or late hours."""
    people = practice().model_dump(by_alias=True)["practitioners"]
    return practice(practitioners=[*people, extra], **overrides)


def at(day: date, clock: str) -> datetime:
    """Local wall time in Berlin as an aware datetime."""
    hour, minute = (int(part) for part in clock.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def day_window(day: date, start: str = "00:00", days: int = 1) -> tuple[datetime, datetime]:
    return at(day, start), at(day + timedelta(days=days), "00:00")


def starts(slots: list[Slot]) -> list[str]:
    """`weber 08:00` per slot, in local time, so failures read like the practice's calendar."""
    return [f"{s.practitioner_id} {s.start.astimezone(BERLIN):%H:%M}" for s in slots]


def find(cal: Calendar, visit_type: str, busy: Any = None, window: Any = None, **kwargs: Any) -> list[Slot]:
    vt = cal.practice.visit_type(visit_type)
    assert vt is not None
    return cal.free_slots(vt, busy or {}, window or day_window(TUESDAY), **kwargs)


@pytest.fixture
def cal() -> Calendar:
    return Calendar(practice())


class TestFreeSlots:
    def test_slots_are_utc_and_last_the_visit(self, cal: Calendar) -> None:
        (slot,) = find(cal, "vorsorge", practitioner_ids=["weber"], limit=1)
        assert slot.start == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
        assert slot.start.tzinfo is UTC
        assert slot.end - slot.start == timedelta(minutes=30)
        assert (slot.practitioner_id, slot.visit_type_id) == ("weber", "vorsorge")

    def test_no_slot_across_the_lunch_break(self, cal: Calendar) -> None:
        slots = find(
            cal, "vorsorge", window=day_window(TUESDAY, "11:45"), practitioner_ids=["weber"], limit=1
        )
        assert starts(slots) == ["weber 14:00"]

    def test_last_slot_before_the_break_ends_at_the_break(self, cal: Calendar) -> None:
        slots = find(cal, "vorsorge", window=day_window(TUESDAY, "11:00"), practitioner_ids=["weber"])
        assert starts(slots) == ["weber 11:00", "weber 11:30", "weber 14:00"]

    def test_duration_must_fit_the_gap(self, cal: Calendar) -> None:
        busy = {
            "weber": [
                (at(TUESDAY, "08:00"), at(TUESDAY, "09:00")),
                (at(TUESDAY, "09:20"), at(TUESDAY, "12:00")),
            ]
        }
        weber = {"practitioner_ids": ["weber"]}
        assert starts(find(cal, "vorsorge", busy, limit=1, **weber)) == ["weber 14:00"]
        assert starts(find(cal, "erst", busy, limit=2, **weber)) == ["weber 09:00", "weber 14:00"]
        assert starts(find(cal, "kurz", busy, **weber)) == ["weber 09:00", "weber 09:05", "weber 09:10"]

    def test_start_after_a_busy_block_is_rounded_up_to_the_grid(self, cal: Calendar) -> None:
        busy = {"weber": [(at(TUESDAY, "08:00"), at(TUESDAY, "08:17"))]}
        slots = find(cal, "akut", busy, practitioner_ids=["weber"])
        assert starts(slots) == ["weber 08:20", "weber 08:30", "weber 08:40"]

    def test_step_is_the_visit_length(self, cal: Calendar) -> None:
        assert starts(find(cal, "akut", practitioner_ids=["weber"])) == [
            "weber 08:00",
            "weber 08:10",
            "weber 08:20",
        ]

    def test_step_is_the_visit_length_rounded_up_to_the_grid(self, cal: Calendar) -> None:
        slots = find(cal, "zwoelf", practitioner_ids=["weber"])
        assert starts(slots) == ["weber 08:00", "weber 08:15", "weber 08:30"]
        assert all(s.end - s.start == timedelta(minutes=12) for s in slots)

    def test_window_start_inside_a_free_interval_starts_at_the_next_grid_point(self, cal: Calendar) -> None:
        slots = find(cal, "vorsorge", window=day_window(TUESDAY, "08:03"), practitioner_ids=["weber"])
        assert starts(slots) == ["weber 08:05", "weber 08:35", "weber 09:05"]

    def test_slot_must_end_within_the_window(self, cal: Calendar) -> None:
        window = (at(TUESDAY, "08:00"), at(TUESDAY, "08:25"))
        assert starts(find(cal, "akut", window=window, practitioner_ids=["weber"], limit=5)) == [
            "weber 08:00",
            "weber 08:10",
        ]

    def test_busy_intervals_unsorted_and_overlapping(self, cal: Calendar) -> None:
        busy = {
            "weber": [
                (at(TUESDAY, "08:30"), at(TUESDAY, "09:00")),
                (at(TUESDAY, "08:00"), at(TUESDAY, "08:40")),
                (at(TUESDAY, "08:50"), at(TUESDAY, "08:55")),
            ]
        }
        assert starts(find(cal, "akut", busy, practitioner_ids=["weber"], limit=1)) == ["weber 09:00"]

    def test_busy_of_another_practitioner_does_not_block(self, cal: Calendar) -> None:
        busy = {"yilmaz": [(at(TUESDAY, "08:00"), at(TUESDAY, "12:30"))]}
        assert starts(find(cal, "akut", busy, limit=1)) == ["weber 08:00"]

    def test_ordered_by_start_then_file_order(self, cal: Calendar) -> None:
        slots = find(cal, "akut", window=day_window(TUESDAY, "08:30"), limit=4)
        assert starts(slots) == ["weber 08:30", "yilmaz 08:30", "weber 08:40", "yilmaz 08:40"]

    def test_the_free_practitioner_comes_first(self, cal: Calendar) -> None:
        busy = {"weber": [(at(TUESDAY, "08:00"), at(TUESDAY, "09:00"))]}
        slots = find(cal, "akut", busy, limit=5)
        assert starts(slots) == [
            "yilmaz 08:30",
            "yilmaz 08:40",
            "yilmaz 08:50",
            "weber 09:00",
            "yilmaz 09:00",
        ]

    def test_practitioner_filter(self, cal: Calendar) -> None:
        slots = find(cal, "akut", practitioner_ids=["yilmaz"])
        assert starts(slots) == ["yilmaz 08:30", "yilmaz 08:40", "yilmaz 08:50"]
        assert find(cal, "akut", practitioner_ids=["nobody"]) == []

    def test_visit_type_restricted_to_its_practitioners(self, cal: Calendar) -> None:
        assert {s.practitioner_id for s in find(cal, "erst", limit=20)} == {"weber"}
        assert find(cal, "erst", practitioner_ids=["yilmaz"]) == []

    def test_limit(self, cal: Calendar) -> None:
        assert len(find(cal, "akut", limit=5)) == 5
        assert len(find(cal, "akut", window=day_window(TUESDAY, days=3), limit=100)) == 100
        assert find(cal, "akut", limit=0) == []

    def test_continues_on_the_next_day(self, cal: Calendar) -> None:
        slots = find(cal, "vorsorge", window=day_window(TUESDAY, "17:45", days=2), practitioner_ids=["weber"])
        assert [s.start.astimezone(BERLIN) for s in slots] == [
            at(TUESDAY + timedelta(days=1), "08:00"),
            at(TUESDAY + timedelta(days=1), "08:30"),
            at(TUESDAY + timedelta(days=1), "09:00"),
        ]

    def test_part_of_day(self, cal: Calendar) -> None:
        weber = {"practitioner_ids": ["weber"]}
        assert starts(find(cal, "akut", after=time(12), limit=1, **weber)) == ["weber 14:00"]
        late = day_window(TUESDAY, "11:40", days=2)
        morning = find(cal, "akut", window=late, before=time(12), **weber)
        assert starts(morning) == ["weber 11:40", "weber 11:50", "weber 08:00"]
        assert morning[-1].start.astimezone(BERLIN).date() == TUESDAY + timedelta(days=1)

    def test_empty_window(self, cal: Calendar) -> None:
        assert find(cal, "akut", window=(at(TUESDAY, "10:00"), at(TUESDAY, "09:00"))) == []

    def test_range_ending_at_midnight(self) -> None:
        late = {"id": "nacht", "name": "Dr. Nacht", "hours": {"di": ["22:00-24:00"]}}
        cal = Calendar(with_practitioner(late))
        two_days = day_window(TUESDAY, days=2)
        slots = find(cal, "vorsorge", window=two_days, practitioner_ids=["nacht"], limit=9)
        assert starts(slots) == ["nacht 22:00", "nacht 22:30", "nacht 23:00", "nacht 23:30"]
        assert slots[-1].end == at(TUESDAY + timedelta(days=1), "00:00")


class TestClosures:
    def test_public_holiday_has_its_german_name(self, cal: Calendar) -> None:
        christmas = date(2026, 12, 25)
        assert cal.closure(christmas) == "Erster Weihnachtstag"
        weber = cal.practice.practitioner("weber")
        assert weber is not None
        assert cal.working_ranges(weber, christmas) == []
        slots = find(cal, "akut", window=day_window(christmas, days=4), limit=1)
        assert slots[0].start.astimezone(BERLIN) == at(date(2026, 12, 28), "08:00")

    def test_holidays_depend_on_the_bundesland(self) -> None:
        reformation = date(2026, 10, 31)  # a Saturday: give someone Saturday hours to see the effect
        saturday = {"id": "samstag", "name": "Dr. Samstag", "hours": {"sa": ["09:00-12:00"]}}
        berlin = Calendar(with_practitioner(saturday, bundesland="BE"))
        brandenburg = Calendar(with_practitioner(saturday, bundesland="BB"))
        assert berlin.closure(reformation) is None
        assert brandenburg.closure(reformation) == "Reformationstag"
        assert len(find(berlin, "akut", window=day_window(reformation), limit=1)) == 1
        assert find(brandenburg, "akut", window=day_window(reformation), limit=1) == []
        assert berlin.closure(date(2026, 3, 8)) == "Frauentag"  # Berlin only
        assert brandenburg.closure(date(2026, 3, 8)) is None

    def test_practice_closure(self) -> None:
        cal = Calendar(
            practice(closures=[{"from": "2026-12-02", "to": "2026-12-03", "reason": "Fortbildung"}])
        )
        assert cal.closure(date(2026, 12, 2)) == "Fortbildung"
        assert cal.closure(date(2026, 12, 3)) == "Fortbildung"
        assert cal.closure(date(2026, 12, 4)) is None
        slots = find(cal, "akut", window=day_window(date(2026, 12, 2), days=3), limit=1)
        assert slots[0].start.astimezone(BERLIN) == at(date(2026, 12, 4), "08:00")

    def test_practitioner_absence(self) -> None:
        people = practice().model_dump(by_alias=True)["practitioners"]
        people[0]["absences"] = [{"from": TUESDAY, "to": TUESDAY, "reason": "Urlaub"}]
        cal = Calendar(practice(practitioners=people))
        weber = cal.practice.practitioner("weber")
        assert cal.closure(TUESDAY) is None
        assert cal.closure(TUESDAY, weber) == "Urlaub"
        assert {s.practitioner_id for s in find(cal, "akut", limit=50)} == {"yilmaz"}
        assert find(cal, "erst") == []

    def test_opening_ranges(self, cal: Calendar) -> None:
        assert cal.opening_ranges(TUESDAY) == [(time(8), time(12)), (time(14), time(18))]
        assert cal.opening_ranges(date(2026, 12, 5)) == []  # Saturday
        assert cal.opening_ranges(date(2026, 12, 25)) == []  # holiday
        closed = Calendar(practice(closures=[{"from": TUESDAY, "to": TUESDAY}]))
        assert closed.opening_ranges(TUESDAY) == []
        assert closed.closure(TUESDAY) == "Praxis geschlossen"

    @pytest.mark.parametrize(
        ("day", "clock", "state"),
        [
            (TUESDAY, time(7, 59), "closed"),
            (TUESDAY, time(8), "open"),
            (TUESDAY, time(11, 59), "open"),
            (TUESDAY, time(12), "lunch_break"),
            (TUESDAY, time(13, 59), "lunch_break"),
            (TUESDAY, time(14), "open"),
            (TUESDAY, time(18), "closed"),
            (date(2026, 12, 5), time(10), "closed"),  # Saturday
            (date(2026, 12, 25), time(10), "closed"),  # holiday
        ],
    )
    def test_opening_state(self, cal: Calendar, day: date, clock: time, state: str) -> None:
        assert cal.opening_state(datetime.combine(day, clock, tzinfo=cal.zone)) == state

    def test_opening_state_on_a_closure_and_until_midnight(self) -> None:
        closed = Calendar(practice(closures=[{"from": TUESDAY, "to": TUESDAY, "reason": "Urlaub"}]))
        assert closed.opening_state(datetime.combine(TUESDAY, time(10), tzinfo=closed.zone)) == "vacation"
        late = Calendar(practice(opening_hours={"di": ["18:00-24:00"]}))
        assert late.opening_state(datetime.combine(TUESDAY, time(23, 30), tzinfo=late.zone)) == "open"

    def test_open_until_midnight(self) -> None:
        cal = Calendar(practice(opening_hours={"di": ["08:00-12:00", "18:00-24:00"]}))
        assert cal.is_open(at(TUESDAY, "23:59"))
        assert cal.is_open(at(TUESDAY, "18:00"))
        assert cal.is_open(at(TUESDAY, "11:59"))
        assert not cal.is_open(at(TUESDAY, "12:00"))
        assert not cal.is_open(at(TUESDAY, "17:59"))
        assert not cal.is_open(at(TUESDAY + timedelta(days=1), "00:00"))  # Wednesday: closed
        assert not cal.is_open(at(TUESDAY, "07:59"))

    def test_next_closures_merges_runs_and_names_holidays(self) -> None:
        cal = Calendar(
            practice(
                closures=[
                    {"from": "2026-12-24", "to": "2026-12-24", "reason": "Heiligabend"},
                    {"from": "2026-12-28", "to": "2026-12-29", "reason": "Betriebsferien"},
                    {"from": "2026-12-30", "to": "2026-12-30", "reason": "Betriebsferien"},
                ]
            )
        )
        assert cal.next_closures(date(2026, 12, 20)) == [
            (date(2026, 12, 24), date(2026, 12, 24), "Heiligabend"),
            (date(2026, 12, 25), date(2026, 12, 25), "Erster Weihnachtstag"),
            (date(2026, 12, 26), date(2026, 12, 26), "Zweiter Weihnachtstag"),
            (date(2026, 12, 28), date(2026, 12, 30), "Betriebsferien"),
            (date(2027, 1, 1), date(2027, 1, 1), "Neujahr"),
        ]

    def test_next_closures_keeps_the_real_start_and_end(self) -> None:
        cal = Calendar(practice(closures=[{"from": "2026-07-13", "to": "2026-07-31", "reason": "Urlaub"}]))
        assert cal.next_closures(date(2026, 7, 20), days=5) == [
            (date(2026, 7, 13), date(2026, 7, 31), "Urlaub")
        ]
        assert cal.next_closures(date(2026, 7, 1), days=14) == [
            (date(2026, 7, 13), date(2026, 7, 31), "Urlaub")
        ]
        assert cal.next_closures(date(2026, 8, 1), days=30) == []

    def test_next_closures_a_closure_spanning_a_holiday_stays_one_run(self) -> None:
        cal = Calendar(
            practice(closures=[{"from": "2026-12-21", "to": "2027-01-04", "reason": "Betriebsferien"}])
        )
        assert cal.next_closures(date(2026, 12, 1), days=40) == [
            (date(2026, 12, 21), date(2027, 1, 4), "Betriebsferien"),
        ]

    def test_next_closures_ignore_absences(self) -> None:
        people = practice().model_dump(by_alias=True)["practitioners"]
        people[0]["absences"] = [{"from": TUESDAY, "to": TUESDAY, "reason": "Urlaub"}]
        cal = Calendar(practice(practitioners=people))
        assert cal.next_closures(TUESDAY, days=10) == []


class TestDaylightSaving:
    @pytest.mark.parametrize(
        ("day", "utc_hour"),
        [
            (date(2026, 3, 27), 7),  # Friday before spring forward: CET, UTC+1
            (date(2026, 3, 30), 6),  # Monday after: CEST, UTC+2
            (date(2026, 10, 23), 6),  # Friday before fall back: CEST
            (date(2026, 10, 26), 7),  # Monday after: CET
        ],
    )
    def test_eight_local_is_the_right_utc_hour(self, cal: Calendar, day: date, utc_hour: int) -> None:
        weber = cal.practice.practitioner("weber")
        assert weber is not None
        assert cal.working_ranges(weber, day)[0][0] == datetime.combine(day, time(utc_hour), tzinfo=UTC)
        (slot,) = find(cal, "akut", window=day_window(day), practitioner_ids=["weber"], limit=1)
        assert slot.start == datetime.combine(day, time(utc_hour), tzinfo=UTC)

    def test_window_across_the_change(self, cal: Calendar) -> None:
        window = (at(date(2026, 3, 27), "17:45"), at(date(2026, 3, 31), "00:00"))
        first, second = find(cal, "vorsorge", window=window, practitioner_ids=["weber"], limit=2)
        assert first.start == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
        assert second.start == datetime(2026, 3, 30, 6, 30, tzinfo=UTC)
        assert spoken_slot(cal, first) == "Montag, 30. März, um 8 Uhr bei Dr. Weber"


class TestBookableWindow:
    def test_min_notice_and_horizon(self, cal: Calendar) -> None:
        assert cal.bookable_window(NOW) == (NOW + timedelta(minutes=60), NOW + timedelta(days=90))

    def test_returns_utc(self, cal: Calendar) -> None:
        window = cal.bookable_window(NOW)
        assert window is not None
        assert window[0].tzinfo is UTC
        assert window[1].tzinfo is UTC

    def test_earliest_and_latest_narrow_it(self, cal: Calendar) -> None:
        earliest, latest = at(TUESDAY, "00:00"), at(TUESDAY, "12:00")
        assert cal.bookable_window(NOW, earliest, latest) == (earliest, latest)
        assert cal.bookable_window(NOW, earliest=NOW - timedelta(days=1)) == cal.bookable_window(NOW)
        assert cal.bookable_window(NOW, latest=NOW + timedelta(days=400)) == cal.bookable_window(NOW)
        assert cal.bookable_window(NOW, latest=NOW + timedelta(minutes=30)) is None
        assert cal.bookable_window(NOW, earliest=NOW + timedelta(days=91)) is None

    def test_naive_datetimes_are_refused(self, cal: Calendar) -> None:
        with pytest.raises(ValueError, match="aware"):
            cal.bookable_window(datetime(2026, 12, 1, 8, 0))

    def test_min_notice_rounds_up_to_the_grid(self, cal: Calendar) -> None:
        window = cal.bookable_window(at(TUESDAY, "08:02"))
        assert window is not None
        assert starts(find(cal, "akut", window=window, practitioner_ids=["weber"], limit=2)) == [
            "weber 09:05",
            "weber 09:15",
        ]

    def test_horizon_ends_the_slots(self) -> None:
        cal = Calendar(practice(booking={"horizon_days": 1, "min_notice_minutes": 60}))
        window = cal.bookable_window(at(date(2026, 11, 30), "13:00"))
        assert window is not None
        slots = find(cal, "vorsorge", window=window, practitioner_ids=["weber"], limit=50)
        assert len(slots) == 16  # Monday 14:00-18:00 and Tuesday 08:00-12:00; Tuesday 14:00 is too far
        assert slots[0].start == at(date(2026, 11, 30), "14:00")
        assert slots[-1].start == at(TUESDAY, "11:30")


class TestFirstWorkingDay:
    """Where the slot search's first read of booked time ends: the first day someone searched works."""

    def test_today_when_someone_works_after_the_start(self, cal: Calendar) -> None:
        end = at(TUESDAY + timedelta(days=1), "00:00")
        assert (
            cal.end_of_first_working_day(["weber", "yilmaz"], at(TUESDAY, "09:00"), NOW + timedelta(days=90))
            == end
        )

    def test_past_a_day_that_is_over_and_a_weekend(self, cal: Calendar) -> None:
        friday_evening = at(date(2026, 11, 27), "18:30")
        monday_ends = at(date(2026, 12, 1), "00:00")
        assert (
            cal.end_of_first_working_day(["weber"], friday_evening, NOW + timedelta(days=90)) == monday_ends
        )

    def test_of_the_practitioners_searched_only(self, cal: Calendar) -> None:
        tuesday_afternoon = at(TUESDAY, "13:00")  # Yilmaz has gone home, Weber has not
        limit = NOW + timedelta(days=90)
        assert cal.end_of_first_working_day(["weber"], tuesday_afternoon, limit) == at(
            date(2026, 12, 2), "00:00"
        )
        assert cal.end_of_first_working_day(["yilmaz"], tuesday_afternoon, limit) == at(
            date(2026, 12, 3), "00:00"
        )

    def test_past_holidays_but_not_past_the_limit(self, cal: Calendar) -> None:
        christmas_eve = at(date(2026, 12, 24), "19:00")  # then a holiday and a weekend
        limit = at(date(2026, 12, 28), "12:00")
        assert cal.end_of_first_working_day(["weber"], christmas_eve, NOW + timedelta(days=90)) == at(
            date(2026, 12, 29), "00:00"
        )
        assert cal.end_of_first_working_day(["weber"], christmas_eve, limit) == limit


class TestIsBookable:
    @pytest.fixture
    def slot(self, cal: Calendar) -> Slot:
        return find(
            cal, "vorsorge", window=day_window(TUESDAY, "09:00"), practitioner_ids=["weber"], limit=1
        )[0]

    def test_a_computed_slot_is_bookable(self, cal: Calendar, slot: Slot) -> None:
        assert cal.is_bookable(slot, NOW)
        for other in find(cal, "akut", window=cal.bookable_window(NOW), limit=30):
            assert cal.is_bookable(other, NOW)

    def test_slot_with_local_offset_is_accepted(self, cal: Calendar, slot: Slot) -> None:
        local = Slot(slot.practitioner_id, slot.visit_type_id, slot.start.astimezone(BERLIN), slot.end)
        assert cal.is_bookable(local, NOW)

    def test_misaligned_start(self, cal: Calendar, slot: Slot) -> None:
        shift = timedelta(minutes=3)
        assert not cal.is_bookable(Slot("weber", "vorsorge", slot.start + shift, slot.end + shift), NOW)
        second = timedelta(seconds=1)
        assert not cal.is_bookable(Slot("weber", "vorsorge", slot.start + second, slot.end + second), NOW)

    def test_wrong_duration(self, cal: Calendar, slot: Slot) -> None:
        assert not cal.is_bookable(
            Slot("weber", "vorsorge", slot.start, slot.end + timedelta(minutes=5)), NOW
        )
        assert not cal.is_bookable(Slot("weber", "akut", slot.start, slot.end), NOW)

    @pytest.mark.parametrize("clock", ["07:30", "12:00", "11:45", "17:45", "18:00"])
    def test_outside_the_working_hours(self, cal: Calendar, clock: str) -> None:
        start = at(TUESDAY, clock)
        assert not cal.is_bookable(Slot("weber", "vorsorge", start, start + timedelta(minutes=30)), NOW)

    def test_closed_day(self, cal: Calendar) -> None:
        christmas = at(date(2026, 12, 25), "09:00")
        assert not cal.is_bookable(Slot("weber", "akut", christmas, christmas + timedelta(minutes=10)), NOW)
        saturday = at(date(2026, 12, 5), "09:00")
        assert not cal.is_bookable(Slot("weber", "akut", saturday, saturday + timedelta(minutes=10)), NOW)

    def test_absent_practitioner(self, slot: Slot) -> None:
        people = practice().model_dump(by_alias=True)["practitioners"]
        people[0]["absences"] = [{"from": TUESDAY, "to": TUESDAY, "reason": "Urlaub"}]
        assert not Calendar(practice(practitioners=people)).is_bookable(slot, NOW)

    def test_too_soon(self, cal: Calendar, slot: Slot) -> None:
        assert cal.is_bookable(slot, slot.start - timedelta(minutes=60))
        assert not cal.is_bookable(slot, slot.start - timedelta(minutes=59))
        assert not cal.is_bookable(slot, slot.start + timedelta(days=1))

    def test_beyond_the_horizon(self, cal: Calendar, slot: Slot) -> None:
        assert cal.is_bookable(slot, slot.end - timedelta(days=90))
        assert not cal.is_bookable(slot, slot.end - timedelta(days=90, minutes=1))

    def test_visit_type_not_offered_by_that_practitioner(self, cal: Calendar, slot: Slot) -> None:
        start = at(TUESDAY, "09:00")
        assert cal.is_bookable(Slot("weber", "erst", start, start + timedelta(minutes=20)), NOW)
        assert not cal.is_bookable(Slot("yilmaz", "erst", start, start + timedelta(minutes=20)), NOW)
        assert not cal.is_bookable(Slot("weber", "unbekannt", slot.start, slot.end), NOW)
        assert not cal.is_bookable(Slot("niemand", "vorsorge", slot.start, slot.end), NOW)

    def test_naive_slot(self, cal: Calendar, slot: Slot) -> None:
        naive = Slot("weber", "vorsorge", slot.start.replace(tzinfo=None), slot.end.replace(tzinfo=None))
        assert not cal.is_bookable(naive, NOW)


class TestSlotId:
    def test_round_trip(self, cal: Calendar) -> None:
        for slot in find(cal, "akut", window=day_window(TUESDAY, days=2), limit=40):
            text = slot_id(slot)
            assert text.replace("-", "").replace("_", "").isalnum()
            assert len(text) <= 40
            assert parse_slot_id(text, cal.practice) == slot

    def test_deterministic_and_zone_independent(self, cal: Calendar) -> None:
        (slot,) = find(cal, "akut", limit=1)
        local = Slot(slot.practitioner_id, slot.visit_type_id, slot.start.astimezone(BERLIN), slot.end)
        assert slot_id(slot) == slot_id(local)
        assert base64.urlsafe_b64decode(slot_id(slot) + "==").decode() == "weber|akut|202612010700"

    @staticmethod
    def encode(raw: str) -> str:
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "!!!",
            "a",
            "äöü",
            "x" * 500,
            "d2ViZXJ8YWt1dHwyMDI2MTIwMTA3MDA=",  # padded form of a valid id
            "d2ViZXJ8YWt1dHwyMDI2MTIwMTA3MDA.",
        ],
    )
    def test_garbage_is_none(self, cal: Calendar, text: str) -> None:
        assert parse_slot_id(text, cal.practice) is None

    @pytest.mark.parametrize(
        "raw",
        [
            "niemand|akut|202612010700",
            "weber|unbekannt|202612010700",
            "weber|akut|202613010700",
            "weber|akut|2026120107",
            "weber|akut|202612010700|x",
            "weber|akut",
            "WEBER|akut|202612010700",
            "weber|akut|２０２６１２０１０７００",
        ],
    )
    def test_unknown_or_malformed_fields_are_none(self, cal: Calendar, raw: str) -> None:
        assert parse_slot_id(self.encode(raw), cal.practice) is None

    def test_non_utf8_payload_is_none(self, cal: Calendar) -> None:
        text = base64.urlsafe_b64encode(b"\xff\xfe|akut|202612010700").decode().rstrip("=")
        assert parse_slot_id(text, cal.practice) is None

    def test_parse_sets_the_end_from_the_visit_type(self, cal: Calendar) -> None:
        slot = parse_slot_id(self.encode("weber|vorsorge|202612010700"), cal.practice)
        assert slot == Slot(
            "weber",
            "vorsorge",
            datetime(2026, 12, 1, 7, tzinfo=UTC),
            datetime(2026, 12, 1, 7, 30, tzinfo=UTC),
        )


class TestSpoken:
    def test_spoken_date(self) -> None:
        assert spoken_date(date(2026, 12, 1)) == "Dienstag, 1. Dezember"
        assert spoken_date(date(2026, 3, 30)) == "Montag, 30. März"

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(time(9, 30), "9:30 Uhr"), (time(9), "9 Uhr"), (time(14, 5), "14:05 Uhr"), (time(0), "0 Uhr")],
    )
    def test_spoken_time(self, value: time, expected: str) -> None:
        assert spoken_time(value) == expected

    @pytest.mark.parametrize(
        ("ranges", "expected"),
        [
            ([], "geschlossen"),
            ([(time(8, 30), time(12, 30))], "8:30 bis 12:30 Uhr"),
            ([(time(8), time(12)), (time(14), time(18))], "8 bis 12 Uhr und 14 bis 18 Uhr"),
            (
                [(time(7), time(9)), (time(10), time(12)), (time(14), time(16, 30))],
                "7 bis 9 Uhr, 10 bis 12 Uhr und 14 bis 16:30 Uhr",
            ),
            ([(time(18), time(0))], "18 bis 24 Uhr"),
        ],
    )
    def test_spoken_ranges(self, ranges: list[tuple[time, time]], expected: str) -> None:
        assert spoken_ranges(ranges) == expected

    def test_spoken_slot_in_local_time(self, cal: Calendar) -> None:
        slot = Slot(
            "weber",
            "akut",
            datetime(2026, 12, 1, 8, 30, tzinfo=UTC),
            datetime(2026, 12, 1, 8, 40, tzinfo=UTC),
        )
        assert spoken_slot(cal, slot) == "Dienstag, 1. Dezember, um 9:30 Uhr bei Dr. Weber"

    def test_spoken_opening_hours(self, cal: Calendar) -> None:
        assert spoken_ranges(cal.opening_ranges(TUESDAY)) == "8 bis 12 Uhr und 14 bis 18 Uhr"
        assert spoken_ranges(cal.opening_ranges(date(2026, 12, 25))) == "geschlossen"


def test_the_demo_practice_yields_bookable_slots() -> None:
    cal = Calendar(load_practice())
    now = datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN)
    window = cal.bookable_window(now)
    assert window is not None
    for visit_type in cal.practice.visit_types:
        slots = cal.free_slots(visit_type, {}, window)
        assert len(slots) == 3, visit_type.id
        assert all(cal.is_bookable(slot, now) for slot in slots)
        assert all(parse_slot_id(slot_id(slot), cal.practice) == slot for slot in slots)
