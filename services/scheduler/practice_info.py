"""What the agent may tell about the practice: hours of the week, whether it is open, closures, emergency
numbers.
"""

import datetime as dt

from ignis.contracts.scheduling import (
    ClosureInfo,
    DayHours,
    GetPracticeInfo,
    PracticeInfo,
)
from ignis.language.spoken import WEEKDAY_NAMES, SpokenStyle, spoken_date, spoken_ranges
from ignis.practice.config import WEEKDAYS
from ignis.scheduler.calendar import Calendar

EMERGENCY = {"notruf": "112", "aerztlicher_bereitschaftsdienst": "116117"}


def practice_info(calendar: Calendar, cmd: GetPracticeInfo, now: dt.datetime) -> PracticeInfo:
    practice = calendar.practice
    local = now.astimezone(calendar.zone)
    style = calendar.spoken_style
    fields: dict[str, object] = {}

    def wants(topic: str) -> bool:
        return cmd.topic in (topic, "alles")

    if wants("oeffnungszeiten"):
        fields["open_now"] = calendar.is_open(now)
        fields["hours_today"] = spoken_ranges(calendar.opening_ranges(local.date()), style)
        fields["opening_hours"] = [
            DayHours(
                day=WEEKDAY_NAMES[index],
                hours=spoken_ranges(sorted(practice.opening_hours.get(day, [])), style),
            )
            for index, day in enumerate(WEEKDAYS)
        ]
    if wants("oeffnungszeiten") or wants("schliesstage"):  # "wann haben Sie auf?" includes the holidays
        fields["opening_state"] = calendar.opening_state(now)
        fields["next_closures"] = [
            ClosureInfo(
                start=start, end=end, reason=reason, spoken=_spoken_closure(start, end, reason, style)
            )
            for start, end, reason in calendar.next_closures(local.date())[:5]
        ]
    if wants("adresse"):
        fields["address"] = (
            f"{practice.address.street}, {practice.address.postal_code} {practice.address.city}"
        )
    if wants("notfall"):
        fields["emergency"] = EMERGENCY
    return PracticeInfo(practice_name=practice.name, **fields)


def _spoken_closure(start: dt.date, end: dt.date, reason: str, style: SpokenStyle) -> str:
    if start == end:
        return f"am {spoken_date(start, style)} ({reason})"
    return f"vom {spoken_date(start, style)} bis {spoken_date(end, style)} ({reason})"
