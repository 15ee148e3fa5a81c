"""The practice's days: public holidays of its Bundesland, closures, absences, opening hours, and whether it
is open at a moment. Pure, no I/O; hours are local wall-clock times in the practice's zone."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from ignis.practice.config import WEEKDAYS, OpeningState, Practice, Practitioner
from ignis.scheduler.intervals import as_utc

__all__ = ["PracticeDays"]

_MAX_CLOSURE_RUN = 400  # days; bounds the walk to a closure's real start/end in next_closures


class PracticeDays:
    """The practice's days as its file says; build once per practice file, it caches the holidays per year."""

    def __init__(self, practice: Practice) -> None:
        self.practice = practice
        self.zone = ZoneInfo(practice.timezone)
        self._holidays: dict[int, dict[date, str]] = {}

    def prepare(self, today: date) -> None:
        """Load this year's and next year's public holidays now: the first load takes about a second (the
        holidays package builds its tables), which the first caller's find_slots would otherwise wait for."""
        for year in (today.year, today.year + 1):
            self.holiday(date(year, 1, 1))

    def holiday(self, day: date) -> str | None:
        """German name of the public holiday in the practice's Bundesland, or None."""
        year = self._holidays.get(day.year)
        if year is None:
            table = holidays.country_holidays(
                "DE", subdiv=self.practice.bundesland, years=day.year, language="de"
            )
            year = self._holidays[day.year] = dict(table.items())
        return year.get(day)

    def _practice_closure(self, day: date) -> str | None:
        return next((c.reason for c in self.practice.closures if c.start <= day <= c.end), None)

    def closure(self, day: date, practitioner: Practitioner | None = None) -> str | None:
        """Why nobody (or this practitioner) works that day: holiday, closure or absence; None if open."""
        reason = self.holiday(day) or self._practice_closure(day)
        if reason is None and practitioner is not None:
            reason = next((a.reason for a in practitioner.absences if a.start <= day <= a.end), None)
        return reason

    def opening_ranges(self, day: date) -> list[tuple[time, time]]:
        """The practice's opening hours that day (an end of 00:00 is midnight); [] if closed."""
        if self.closure(day):
            return []
        return sorted(self.practice.opening_hours.get(WEEKDAYS[day.weekday()], []))

    def is_open(self, moment: datetime) -> bool:
        """Whether the practice is open at `moment` (aware); a range ending at 24:00 includes 23:59."""
        local = as_utc(moment).astimezone(self.zone)
        now = local.time()
        return any(
            start <= now and (end == time(0, 0) or now < end)
            for start, end in self.opening_ranges(local.date())
        )

    def opening_state(self, moment: datetime) -> OpeningState:
        """The practice's state at `moment` (aware): one of its closures, open, between two ranges of the
        day, or closed (before, after, a day without hours, a public holiday)."""
        local = as_utc(moment).astimezone(self.zone)
        if self._practice_closure(local.date()):
            return "vacation"
        ranges = self.opening_ranges(local.date())
        clock = local.time()
        if any(start <= clock < end or (end == time(0) and start <= clock) for start, end in ranges):
            return "open"
        if any(end <= clock for _, end in ranges if end != time(0)) and any(clock < s for s, _ in ranges):
            return "lunch_break"
        return "closed"

    def next_closures(self, today: date, days: int = 60) -> list[tuple[date, date, str]]:
        """Practice-wide closures (holidays and closures, not absences) ahead, one entry per run of days.

        A run ongoing today keeps its real first day, and one reaching past the horizon its real last day, so
        the agent can say "vom 21. Dezember bis 4. Januar". Where a practice closure spans a holiday, the
        closure's reason wins, so company holidays are not split into pieces around Christmas.
        """
        runs: list[tuple[date, date, str]] = []
        for offset in range(days + 1):
            day = today + timedelta(days=offset)
            reason = self._practice_reason(day)
            if reason is None:
                continue
            if runs and runs[-1][2] == reason and runs[-1][1] == day - timedelta(days=1):
                runs[-1] = (runs[-1][0], day, reason)
            else:
                runs.append((day, day, reason))
        if runs and runs[0][0] == today:
            first, last, reason = runs[0]
            runs[0] = (self._walk(first, reason, -1), last, reason)
        if runs and runs[-1][1] == today + timedelta(days=days):
            first, last, reason = runs[-1]
            runs[-1] = (first, self._walk(last, reason, 1), reason)
        return runs

    def _practice_reason(self, day: date) -> str | None:
        return self._practice_closure(day) or self.holiday(day)

    def _walk(self, day: date, reason: str, direction: int) -> date:
        """The last day reached from `day` in `direction` with the same closure reason."""
        for _ in range(_MAX_CLOSURE_RUN):
            following = day + timedelta(days=direction)
            if self._practice_reason(following) != reason:
                break
            day = following
        return day
