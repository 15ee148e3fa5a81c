"""Dates and times as callers say them, relative to a fixed today: Thursday, 26 November 2026."""

from datetime import date, time

import pytest

from ignis.language.dates import DateParseError
from ignis.language.phrases import Wish, parse_wish

TODAY = date(2026, 11, 26)  # a Thursday; this week runs 23–29 November, the next 30 November – 6 December


def days(first: date, last: date | None = None) -> Wish:
    return Wish(first=first, last=last or first)


NOV, DEC = 11, 12
THIS_WEEK = days(TODAY, date(2026, 11, 29))
NEXT_WEEK = days(date(2026, 11, 30), date(2026, 12, 6))
DECEMBER = days(date(2026, 12, 1), date(2026, 12, 31))
DEC_3 = days(date(2026, 12, 3))

PHRASES: list[tuple[str, Wish]] = [
    # days relative to today
    ("heute", days(TODAY)),
    ("morgen", days(date(2026, 11, 27))),
    ("übermorgen", days(date(2026, 11, 28))),
    ("Uebermorgen", days(date(2026, 11, 28))),
    # weekdays: the next one after today
    ("Montag", days(date(2026, 11, 30))),
    ("am Freitag", days(date(2026, 11, 27))),
    ("Donnerstag", days(date(2026, 12, 3))),
    ("nächsten Dienstag", days(date(2026, 12, 1))),
    ("Nächsten Dienstag bitte", days(date(2026, 12, 1))),
    ("kommenden Mittwoch", days(date(2026, 12, 2))),
    ("diesen Samstag", days(date(2026, 11, 28))),
    ("übernächsten Dienstag", days(date(2026, 12, 8))),
    ("Dienstag nächste Woche", days(date(2026, 12, 1))),
    ("nächste Woche Dienstag", days(date(2026, 12, 1))),
    ("nächste Woche am Freitag", days(date(2026, 12, 4))),
    ("Mittwoch in zwei Wochen", days(date(2026, 12, 9))),
    # weeks
    ("diese Woche", THIS_WEEK),
    ("nächste Woche", NEXT_WEEK),
    ("in der nächsten Woche", NEXT_WEEK),
    ("kommende Woche", NEXT_WEEK),
    ("übernächste Woche", days(date(2026, 12, 7), date(2026, 12, 13))),
    ("Anfang nächster Woche", days(date(2026, 11, 30), date(2026, 12, 2))),
    ("Mitte nächster Woche", days(date(2026, 12, 1), date(2026, 12, 3))),
    ("Ende der Woche", THIS_WEEK),
    ("Anfang der Woche", days(date(2026, 11, 30), date(2026, 12, 2))),  # this week's start is over
    ("am Wochenende", days(date(2026, 11, 28), date(2026, 11, 29))),
    # in N days / weeks / months, digits and number words
    ("in drei Tagen", days(date(2026, 11, 29))),
    ("in 3 Tagen", days(date(2026, 11, 29))),
    ("in zehn Tagen", days(date(2026, 12, 6))),
    ("in vierzehn Tagen", days(date(2026, 12, 10))),
    ("in einer Woche", NEXT_WEEK),
    ("in zwei Wochen", days(date(2026, 12, 7), date(2026, 12, 13))),
    ("in 2 Wochen", days(date(2026, 12, 7), date(2026, 12, 13))),
    ("in drei Wochen", days(date(2026, 12, 14), date(2026, 12, 20))),
    ("in einem Monat", DECEMBER),
    # day and month without a year: the next such date
    ("3. Dezember", DEC_3),
    ("am 3. Dezember", DEC_3),
    ("den dritten Dezember", DEC_3),
    ("am dritten Zwölften", DEC_3),
    ("3.12.", DEC_3),
    ("3.12", DEC_3),
    ("3. 12.", DEC_3),
    ("am 3ten Dezember", DEC_3),
    ("26. November", days(TODAY)),
    ("20. November", days(date(2027, 11, 20))),
    ("29. Februar", days(date(2028, 2, 29))),
    ("am 15.", days(date(2026, 12, 15))),
    ("am fünfzehnten", days(date(2026, 12, 15))),
    ("am 27.", days(date(2026, 11, 27))),
    # with a year
    ("3. Dezember 2026", DEC_3),
    ("2026-12-03", DEC_3),
    ("03.12.2026", DEC_3),
    # months and their parts
    ("Anfang des Monats", days(date(2026, 12, 1), date(2026, 12, 10))),  # November's start is over
    ("Mitte des Monats", days(date(2026, 12, 11), date(2026, 12, 20))),
    ("Ende des Monats", days(TODAY, date(2026, 11, 30))),
    ("Anfang nächsten Monats", days(date(2026, 12, 1), date(2026, 12, 10))),
    ("Anfang des nächsten Monats", days(date(2026, 12, 1), date(2026, 12, 10))),
    ("Ende nächsten Monats", days(date(2026, 12, 21), date(2026, 12, 31))),
    ("nächsten Monat", DECEMBER),
    ("im nächsten Monat", DECEMBER),
    ("im Dezember", DECEMBER),
    ("Dezember", DECEMBER),
    ("Anfang Januar", days(date(2027, 1, 1), date(2027, 1, 10))),
    ("Ende Dezember", days(date(2026, 12, 21), date(2026, 12, 31))),
    ("im November", days(TODAY, date(2026, 11, 30))),
    ("im Oktober", days(date(2027, 10, 1), date(2027, 10, 31))),
    ("im März", days(date(2027, 3, 1), date(2027, 3, 31))),
    # open and closed ends
    ("ab Montag", Wish(first=date(2026, 11, 30))),
    ("ab nächster Woche", Wish(first=date(2026, 11, 30))),
    ("ab dem 3. Dezember", Wish(first=date(2026, 12, 3))),
    ("nach dem 3. Dezember", Wish(first=date(2026, 12, 4))),
    ("bis Freitag", days(TODAY, date(2026, 11, 27))),
    ("spätestens nächste Woche", days(TODAY, date(2026, 12, 6))),
    ("vor dem 10. Dezember", days(TODAY, date(2026, 12, 9))),
    ("Montag bis Mittwoch", days(date(2026, 11, 30), date(2026, 12, 2))),
    ("zwischen dem 3. und dem 10. Dezember", days(date(2026, 12, 3), date(2026, 12, 10))),
    ("Montag oder Dienstag", days(date(2026, 11, 30), date(2026, 12, 1))),
    # times of day
    ("ab 16 Uhr", Wish(after=time(16))),
    ("nach 16 Uhr", Wish(after=time(16))),
    ("nach vier", Wish(after=time(16))),
    ("ab sechzehn Uhr", Wish(after=time(16))),
    ("ab 7:30", Wish(after=time(7, 30))),
    ("vor 10 Uhr", Wish(before=time(10))),
    ("bis 10 Uhr", Wish(before=time(10))),
    ("zwischen 9 und 11 Uhr", Wish(after=time(9), before=time(11))),
    ("um 10 Uhr", Wish(after=time(10), before=time(11))),
    ("gegen 8", Wish(after=time(8), before=time(9))),
    ("um 14:30", Wish(after=time(14, 30), before=time(15, 30))),
    ("14.30 Uhr", Wish(after=time(14, 30), before=time(15, 30))),
    ("vier Uhr nachmittags", Wish(after=time(16), before=time(17))),
    ("früh", Wish(before=time(10))),
    ("morgens", Wish(before=time(10))),
    ("vormittags", Wish(before=time(12))),
    ("am Vormittag", Wish(before=time(12))),
    ("Vormittag", Wish(before=time(12))),
    ("mittags", Wish(after=time(11), before=time(14))),
    ("über Mittag", Wish(after=time(11), before=time(14))),
    ("nachmittags", Wish(after=time(12))),
    ("Nachmittag", Wish(after=time(12))),
    ("abends", Wish(after=time(17))),
    ("am Abend", Wish(after=time(17))),
    # days and times together
    ("morgen früh", Wish(first=date(2026, 11, 27), last=date(2026, 11, 27), before=time(10))),
    ("morgen Vormittag", Wish(first=date(2026, 11, 27), last=date(2026, 11, 27), before=time(12))),
    ("heute Nachmittag", Wish(first=TODAY, last=TODAY, after=time(12))),
    ("nächsten Dienstag nachmittags", Wish(date(2026, 12, 1), date(2026, 12, 1), after=time(12))),
    ("Montag ab 16 Uhr", Wish(date(2026, 11, 30), date(2026, 11, 30), after=time(16))),
    ("nächste Woche vormittags", Wish(NEXT_WEEK.first, NEXT_WEEK.last, before=time(12))),
    ("in zwei Wochen nach 16 Uhr", Wish(date(2026, 12, 7), date(2026, 12, 13), after=time(16))),
    ("am 3. Dezember um 9 Uhr", Wish(DEC_3.first, DEC_3.last, after=time(9), before=time(10))),
    ("Freitag, 16:30 Uhr", Wish(date(2026, 11, 27), date(2026, 11, 27), time(16, 30), time(17, 30))),
    # how people wrap it
    ("am liebsten Dienstag", days(date(2026, 12, 1))),
    ("Dienstag wäre gut", days(date(2026, 12, 1))),
    ("nächste Woche passt mir", NEXT_WEEK),
    ("irgendwann nächste Woche", NEXT_WEEK),
    ("morgen oder übermorgen", days(date(2026, 11, 27), date(2026, 11, 28))),
    ("Montagvormittag", Wish(date(2026, 11, 30), date(2026, 11, 30), before=time(12))),
    ("Dienstagmorgen", Wish(date(2026, 12, 1), date(2026, 12, 1), before=time(10))),
    ("Freitagabend", Wish(date(2026, 11, 27), date(2026, 11, 27), after=time(17))),
    ("früh am Morgen", Wish(before=time(10))),
    ("Ende November", days(TODAY, date(2026, 11, 30))),
    # no wish at all
    ("so bald wie möglich", Wish()),
    ("schnellstmöglich", Wish()),
    ("egal", Wish()),
]


@pytest.mark.parametrize(("phrase", "wish"), PHRASES, ids=[phrase for phrase, _ in PHRASES])
def test_phrase(phrase: str, wish: Wish) -> None:
    assert parse_wish(phrase, today=TODAY) == wish


def test_the_table_covers_at_least_sixty_phrasings() -> None:
    assert len({phrase for phrase, _ in PHRASES}) >= 60


UNPARSEABLE = [
    "",
    "   ",
    "irgendwann",
    "gestern",
    "blau",
    "Weihnachten",
    "31. Februar",
    "am 32.",
    "13.13.",
    "ab 25 Uhr",
    "nach 16 vor 10 Uhr",
    "Freitag bis Montag letzter Woche",
    "x" * 300,
]


@pytest.mark.parametrize("phrase", UNPARSEABLE)
def test_unparseable(phrase: str) -> None:
    with pytest.raises(DateParseError) as error:
        parse_wish(phrase, today=TODAY)
    if phrase.strip():
        assert phrase.strip() not in str(error.value)  # a transcript never reaches a log through the error


def test_wishes_combine_to_the_narrower() -> None:
    week = parse_wish("nächste Woche", today=TODAY)
    afternoon = parse_wish("nach 16 Uhr", today=TODAY)
    assert week & afternoon == Wish(NEXT_WEEK.first, NEXT_WEEK.last, after=time(16))
    assert week & parse_wish("ab Mittwoch", today=TODAY) == days(date(2026, 12, 2), date(2026, 12, 6))


def test_the_year_turns() -> None:
    new_year_eve = date(2026, 12, 31)
    assert parse_wish("morgen", today=new_year_eve) == days(date(2027, 1, 1))
    assert parse_wish("nächsten Monat", today=new_year_eve) == days(date(2027, 1, 1), date(2027, 1, 31))
    assert parse_wish("3. Januar", today=new_year_eve) == days(date(2027, 1, 3))
