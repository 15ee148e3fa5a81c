"""Dates and times written as a German voice says them (IGNIS_SPOKEN_STYLE=words), and the digits style."""

from datetime import date, time

import pytest

from ignis.language.spoken import number_words, spoken_date, spoken_ranges, spoken_time, spoken_year

ORDINALS = [
    "ersten",
    "zweiten",
    "dritten",
    "vierten",
    "fünften",
    "sechsten",
    "siebten",
    "achten",
    "neunten",
    "zehnten",
    "elften",
    "zwölften",
    "dreizehnten",
    "vierzehnten",
    "fünfzehnten",
    "sechzehnten",
    "siebzehnten",
    "achtzehnten",
    "neunzehnten",
    "zwanzigsten",
    "einundzwanzigsten",
    "zweiundzwanzigsten",
    "dreiundzwanzigsten",
    "vierundzwanzigsten",
    "fünfundzwanzigsten",
    "sechsundzwanzigsten",
    "siebenundzwanzigsten",
    "achtundzwanzigsten",
    "neunundzwanzigsten",
    "dreißigsten",
    "einunddreißigsten",
]


@pytest.mark.parametrize("day", range(1, 32))
def test_every_day_of_a_month_as_an_ordinal(day: int) -> None:
    said = spoken_date(date(2026, 12, day), "words")
    assert said.split(", ")[1] == f"den {ORDINALS[day - 1]} Dezember"
    assert not any(c.isdigit() for c in said)


def test_the_issues_example() -> None:
    assert spoken_date(date(2026, 11, 25), "words") == "Mittwoch, den fünfundzwanzigsten November"
    assert spoken_time(time(8, 30), "words") == "acht Uhr dreißig"


@pytest.mark.parametrize(
    ("clock", "said"),
    [
        (time(0, 0), "null Uhr"),
        (time(1, 0), "ein Uhr"),
        (time(1, 1), "ein Uhr eins"),
        (time(9, 0), "neun Uhr"),
        (time(9, 5), "neun Uhr fünf"),
        (time(11, 45), "elf Uhr fünfundvierzig"),
        (time(12, 15), "zwölf Uhr fünfzehn"),
        (time(16, 0), "sechzehn Uhr"),
        (time(17, 21), "siebzehn Uhr einundzwanzig"),
        (time(20, 50), "zwanzig Uhr fünfzig"),
        (time(21, 30), "einundzwanzig Uhr dreißig"),
        (time(23, 59), "dreiundzwanzig Uhr neunundfünfzig"),
    ],
)
def test_times_in_words(clock: time, said: str) -> None:
    assert spoken_time(clock, "words") == said


@pytest.mark.parametrize(
    ("ranges", "said"),
    [
        ([], "geschlossen"),
        ([(time(8), time(12))], "acht bis zwölf Uhr"),
        ([(time(8), time(12)), (time(14), time(18))], "acht bis zwölf Uhr und vierzehn bis achtzehn Uhr"),
        ([(time(8, 30), time(12, 30))], "acht Uhr dreißig bis zwölf Uhr dreißig"),
        ([(time(8, 30), time(12))], "acht Uhr dreißig bis zwölf Uhr"),
        ([(time(18), time(0))], "achtzehn bis vierundzwanzig Uhr"),
    ],
)
def test_ranges_in_words(ranges: list[tuple[time, time]], said: str) -> None:
    assert spoken_ranges(ranges, "words") == said


def test_digits_stay_the_written_form() -> None:
    assert spoken_date(date(2026, 11, 25), "digits") == "Mittwoch, 25. November"
    assert spoken_time(time(8, 30), "digits") == "8:30 Uhr"
    assert spoken_ranges([(time(8), time(12))], "digits") == "8 bis 12 Uhr"
    assert spoken_year(2026, "digits") == "2026"


@pytest.mark.parametrize(
    ("number", "said"),
    [(0, "null"), (21, "einundzwanzig"), (100, "einhundert"), (2026, "zweitausendsechsundzwanzig")],
)
def test_numbers(number: int, said: str) -> None:
    assert number_words(number) == said


def test_years() -> None:
    assert spoken_year(2026, "words") == "zweitausendsechsundzwanzig"
    assert spoken_year(1980, "words") == "neunzehnhundertachtzig"
    assert spoken_year(1900, "words") == "neunzehnhundert"
