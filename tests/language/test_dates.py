"""Dates as callers say them: typed formats, German month names, number words, and PII-free errors."""

from datetime import date

import pytest

from ignis.language.dates import DateParseError, parse_birth_date, parse_date

TODAY = date(2024, 6, 15)


class TestParseDate:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("1980-03-12", date(1980, 3, 12)),
            ("1980-3-2", date(1980, 3, 2)),
            (" 1980 - 03 - 12 ", date(1980, 3, 12)),
            ("12.03.1980", date(1980, 3, 12)),
            ("12.3.1980", date(1980, 3, 12)),
            ("2.3.1980", date(1980, 3, 2)),
            ("12.03.1980.", date(1980, 3, 12)),
            ("12. 3. 1980", date(1980, 3, 12)),
            ("  12 .3 .  1980  ", date(1980, 3, 12)),
        ],
    )
    def test_numeric_formats(self, text: str, expected: date) -> None:
        assert parse_date(text, today=TODAY) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("12. März 1980", date(1980, 3, 12)),
            ("12 März 1980", date(1980, 3, 12)),
            ("12. Maerz 1980", date(1980, 3, 12)),
            ("12. MÄRZ 1980", date(1980, 3, 12)),
            ("3. Mai 80", date(2080, 5, 3)),
            ("1. Januar 2000", date(2000, 1, 1)),
            ("1. Jänner 2000", date(2000, 1, 1)),
            ("1. Jan 2000", date(2000, 1, 1)),
            ("1. Jan. 2000", date(2000, 1, 1)),
            ("28. Feb. 2001", date(2001, 2, 28)),
            ("12. Mär 1980", date(1980, 3, 12)),
            ("12. Mär. 1980", date(1980, 3, 12)),
            ("4. apr 1990", date(1990, 4, 4)),
            ("4. Jun 1990", date(1990, 6, 4)),
            ("4. Juni 1990", date(1990, 6, 4)),
            ("4. Jul. 1990", date(1990, 7, 4)),
            ("4. Juli 1990", date(1990, 7, 4)),
            ("4. Aug 1990", date(1990, 8, 4)),
            ("5. Sept. 1999", date(1999, 9, 5)),
            ("5. Sep 1999", date(1999, 9, 5)),
            ("5. September 1999", date(1999, 9, 5)),
            ("6. Okt 1999", date(1999, 10, 6)),
            ("6. Oktober 1999", date(1999, 10, 6)),
            ("7. Nov. 1999", date(1999, 11, 7)),
            ("24. Dez 1999", date(1999, 12, 24)),
            ("24. dezember 1999", date(1999, 12, 24)),
        ],
    )
    def test_month_names(self, text: str, expected: date) -> None:
        assert parse_date(text, today=TODAY) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("zwölfter dritter achtzig", date(2080, 3, 12)),
            ("zwölfter März neunzehnhundertachtzig", date(1980, 3, 12)),
            ("erster erster zweitausendzwei", date(2002, 1, 1)),
            ("einunddreißigster zwölfter neunzehnhundertneunundneunzig", date(1999, 12, 31)),
            ("einunddreissigster zwölfter neunzehnhundertneunundneunzig", date(1999, 12, 31)),
            ("am dritten Mai neunzehnhundertachtzig", date(1980, 5, 3)),
            ("den ersten Januar zweitausend", date(2000, 1, 1)),
            ("der erste erste neunzehnhundertfünf", date(1905, 1, 1)),
            ("siebter siebter zweitausendzwölf", date(2012, 7, 7)),
            ("siebenter siebten zweitausendzwölf", date(2012, 7, 7)),
            ("achte achter neunzehnhundertsiebzig", date(1970, 8, 8)),
            ("sechsten sechsten neunzehnhundertsechsundsechzig", date(1966, 6, 6)),
            ("zwanzigstes Mai neunzehnhundertvierzig", date(1940, 5, 20)),
            ("zehnten elften zweitausendzehn", date(2010, 11, 10)),
            ("neunzehnter zweiter neunzehnhundertneunzehn", date(1919, 2, 19)),
            ("dreißigsten neunten neunzehnhundertdreißig", date(1930, 9, 30)),
            ("zwölf drei neunzehnhundertachtzig", date(1980, 3, 12)),
            ("zwölften dritten neunzehnhundert achtzig", date(1980, 3, 12)),
            ("12. dritten 1980", date(1980, 3, 12)),
        ],
    )
    def test_number_words(self, text: str, expected: date) -> None:
        assert parse_date(text, today=TODAY) == expected

    @pytest.mark.parametrize(
        ("text", "past", "expected"),
        [
            ("12.3.80", True, date(1980, 3, 12)),
            ("12.3.80", False, date(2080, 3, 12)),
            ("12.3.24", True, date(2024, 3, 12)),
            ("15.6.24", True, date(2024, 6, 15)),  # today itself is not in the future
            ("16.6.24", True, date(1924, 6, 16)),  # 2024-06-16 would be tomorrow
            ("1.1.25", True, date(1925, 1, 1)),
            ("1.1.25", False, date(2025, 1, 1)),
            ("1.1.00", True, date(2000, 1, 1)),
            ("1.1.05", True, date(2005, 1, 1)),
            ("zwölfter dritter achtzig", True, date(1980, 3, 12)),
            ("erster erster fünf", True, date(2005, 1, 1)),
        ],
    )
    def test_two_digit_year_pivot(self, text: str, past: bool, expected: date) -> None:
        assert parse_date(text, today=TODAY, past=past) == expected

    def test_pivot_uses_today_by_default(self) -> None:
        assert parse_date("1.1.00", past=True) == date(2000, 1, 1)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("29.02.2000", date(2000, 2, 29)),
            ("29.02.2024", date(2024, 2, 29)),
            ("29. Februar 1996", date(1996, 2, 29)),
        ],
    )
    def test_leap_day_in_leap_year(self, text: str, expected: date) -> None:
        assert parse_date(text, today=TODAY) == expected

    @pytest.mark.parametrize("text", ["29.02.1900", "29.02.2023", "29. Februar 1981", "1981-02-29"])
    def test_leap_day_in_common_year(self, text: str) -> None:
        with pytest.raises(DateParseError, match="day out of range"):
            parse_date(text, today=TODAY)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("31.02.1980", "day out of range"),
            ("31.04.1980", "day out of range"),
            ("0.1.1980", "day out of range"),
            ("32.1.1980", "day out of range"),
            ("12.13.1980", "month out of range"),
            ("12.0.1980", "month out of range"),
            ("1980-13-01", "month out of range"),
            ("zweiunddreißigster Mai neunzehnhundertachtzig", "day out of range"),
        ],
    )
    def test_invalid_calendar_dates(self, text: str, message: str) -> None:
        with pytest.raises(DateParseError, match=message):
            parse_date(text, today=TODAY)

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "   ",
            "morgen",
            "12.03.",
            "12. März",
            "12/3/1980",
            "12-03-1980",
            "12.3.198",
            "12.3.19800",
            "123.3.1980",
            "12. Märzen 1980",
            "zwölfter dritter hundertachtzig",
            "zwölfter dritter neunzehnhundertquatsch",
            "zwölfter dritter tausendneunzehnhundert",
            "Blumenkohl Kartoffel Salat",
            "1" * 500,
        ],
    )
    def test_unrecognised_text(self, text: str) -> None:
        with pytest.raises(DateParseError):
            parse_date(text, today=TODAY)

    def test_error_is_a_value_error(self) -> None:
        with pytest.raises(ValueError, match="unrecognised date"):
            parse_date("irgendwann", today=TODAY)


class TestParseBirthDate:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("12.03.1980", date(1980, 3, 12)),
            ("12.3.80", date(1980, 3, 12)),
            ("3. Mai 05", date(2005, 5, 3)),
            ("1.1.1900", date(1900, 1, 1)),
            ("15.6.2024", TODAY),
            ("am dritten Mai neunzehnhundertachtzig", date(1980, 5, 3)),
            ("16.6.24", date(1924, 6, 16)),
        ],
    )
    def test_plausible_birth_dates(self, text: str, expected: date) -> None:
        assert parse_birth_date(text, today=TODAY) == expected

    @pytest.mark.parametrize(
        "text", ["16.06.2024", "1.1.2030", "2030-01-01", "erster erster zweitausenddreißig"]
    )
    def test_future_rejected(self, text: str) -> None:
        with pytest.raises(DateParseError, match="future"):
            parse_birth_date(text, today=TODAY)

    @pytest.mark.parametrize("text", ["31.12.1899", "1899-01-01", "1. Mai 1850"])
    def test_before_1900_rejected(self, text: str) -> None:
        with pytest.raises(DateParseError, match="1900"):
            parse_birth_date(text, today=TODAY)

    def test_invalid_dates_still_rejected(self) -> None:
        with pytest.raises(DateParseError, match="day out of range"):
            parse_birth_date("29.02.1981", today=TODAY)


class TestErrorsCarryNoPersonalData:
    """Birth dates are personal data; the error text ends up in logs and on the bus."""

    @pytest.mark.parametrize(
        ("text", "fragments"),
        [
            ("31.02.1980", ["31", "02", "1980"]),
            ("12.13.1987", ["12", "13", "1987"]),
            ("16.06.2024", ["16", "06", "2024"]),
            ("31.12.1899", ["31", "12", "1899"]),
            ("1984-02-30", ["1984", "02", "30"]),
            ("12/3/1976", ["12", "1976"]),
            ("zweiunddreißigster Mai neunzehnhundertachtzig", ["zweiund", "Mai", "neunzehn"]),
            ("geboren am Dienstag", ["geboren", "Dienstag"]),
        ],
    )
    def test_message_does_not_echo_input(self, text: str, fragments: list[str]) -> None:
        with pytest.raises(DateParseError) as caught:
            parse_birth_date(text, today=TODAY)
        rendered = f"{caught.value} {caught.value!r} {caught.value.args}"
        for fragment in fragments:
            assert fragment.lower() not in rendered.lower()
        assert caught.value.__cause__ is None
