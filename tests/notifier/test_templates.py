"""SMS texts: GSM-7 only, one SMS at most, whatever the date and the practitioner; a practice file whose
template would not fit is refused at load, naming the template."""

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from ignis.practice.config import DEMO_PRACTICE, PracticeConfigError, load_practice
from ignis.practice.sms import (
    DEFAULT_TEMPLATES,
    GSM7_BASIC,
    GSM7_EXTENSION,
    SMS_LIMIT,
    Template,
    gsm7_length,
    render,
    to_gsm7,
    when_fields,
)
from tests.conftest import TEST_PRACTICE

LONGEST = dt.datetime(2027, 9, 30, 23, 55)  # a Donnerstag: the longest weekday, two-digit day and month


def write(tmp_path: Path, practice: dict[str, Any]) -> Path:
    path = tmp_path / "practice.yaml"
    path.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")
    return path


# A practice at the limits the default templates are made for (see DEFAULT_TEMPLATES): a 32-character SMS
# name, a 41-character address and a 15-character phone number.
LONG_PRACTICE = TEST_PRACTICE | {
    "name": "Gemeinschaftspraxis für Allgemeinmedizin und Innere Medizin Dr. med. Weber",
    "address": {"street": "Kaiserin-Augusta-Allee 112a", "postal_code": "10553", "city": "Berlin"},
    "phone": "+49 30 12345678",
    "sms": {"sender_name": "Gemeinschaftspraxis Dr. Weber-Öz"},
}


class TestDefaultTemplates:
    @pytest.mark.parametrize("template", list(Template))
    def test_fit_one_sms_at_the_longest_fields(self, tmp_path: Path, template: Template) -> None:
        practice = load_practice(write(tmp_path, LONG_PRACTICE))
        assert len(practice.sms.sender_name or "") == 32
        assert len(practice.sms_fields()["address"]) == 41
        fields = (
            practice.sms_fields()
            | {"practitioner": "Dr. Yilmaz"}
            | when_fields(LONGEST)
            | when_fields(LONGEST, "old_")
        )
        text = render(DEFAULT_TEMPLATES[template], fields)
        assert gsm7_length(text) <= SMS_LIMIT, (gsm7_length(text), text)
        assert set(text) <= GSM7_BASIC | GSM7_EXTENSION
        assert "Donnerstag, 30.09.2027, 23:55 Uhr" in text

    @pytest.mark.parametrize("template", list(Template))
    def test_demo_practice_renders_every_template(self, template: Template) -> None:
        practice = load_practice(DEMO_PRACTICE)
        fields = (
            practice.sms_fields()
            | {"practitioner": "Dr. Weber"}
            | when_fields(LONGEST)
            | when_fields(LONGEST, "old_")
        )
        text = render(practice.sms.template(template), fields)
        assert text.startswith("Hausarztpraxis Dr. Weber: ")
        assert "+49 30 1234567" in text
        assert gsm7_length(text) <= SMS_LIMIT

    def test_reschedule_names_old_and_new_time(self) -> None:
        practice = load_practice(DEMO_PRACTICE)
        fields = (
            practice.sms_fields()
            | {"practitioner": ""}
            | when_fields(dt.datetime(2026, 12, 3, 9, 30))
            | when_fields(dt.datetime(2026, 12, 1, 14, 0), "old_")
        )
        assert render(practice.sms.template(Template.reschedule), fields) == (
            "Hausarztpraxis Dr. Weber: Ihr Termin ist verlegt auf Donnerstag, 03.12.2026, 09:30 Uhr "
            "(statt 01.12.2026, 14:00). Fragen: +49 30 1234567"
        )


class TestPracticeFile:
    def test_a_template_too_long_for_one_sms_is_refused(self, tmp_path: Path) -> None:
        sms = LONG_PRACTICE["sms"] | {"templates": {"reminder": "{practice}: " + "x" * 120 + " {date}"}}
        practice = LONG_PRACTICE | {"sms": sms}
        with pytest.raises(PracticeConfigError, match=r"sms\.templates\.reminder: \d+ characters"):
            load_practice(write(tmp_path, practice))

    def test_a_long_practitioner_name_counts(self, tmp_path: Path) -> None:
        # 126 characters with "Dr. Weber", 162 with the 45-character name: one SMS no longer holds it.
        template = "{practice}: {weekday}, {date} {time} bei {practitioner}. " + "y" * 70
        practitioners = [
            p | {"name": "Prof. Dr. med. Maximiliane Mustermann-Schulze"}
            for p in TEST_PRACTICE["practitioners"]
        ]
        practice = TEST_PRACTICE | {
            "practitioners": practitioners,
            "sms": {"templates": {"confirmation": template}},
        }
        with pytest.raises(PracticeConfigError, match="confirmation"):
            load_practice(write(tmp_path, practice))

    def test_unknown_field_is_refused_with_the_known_ones(self, tmp_path: Path) -> None:
        practice = TEST_PRACTICE | {"sms": {"templates": {"confirmation": "Termin {datum}"}}}
        with pytest.raises(PracticeConfigError, match=r"unknown field \{datum\}; known: practice, weekday"):
            load_practice(write(tmp_path, practice))

    def test_visit_reason_cannot_be_a_field(self, tmp_path: Path) -> None:
        practice = TEST_PRACTICE | {"sms": {"templates": {"confirmation": "{practice}: {reason}"}}}
        with pytest.raises(PracticeConfigError, match=r"unknown field \{reason\}"):
            load_practice(write(tmp_path, practice))

    def test_broken_braces_are_refused(self, tmp_path: Path) -> None:
        practice = TEST_PRACTICE | {"sms": {"templates": {"confirmation": "{practice: am {date}"}}}
        with pytest.raises(PracticeConfigError, match=r"templates\.confirmation"):
            load_practice(write(tmp_path, practice))

    def test_custom_template_is_used(self, tmp_path: Path) -> None:
        practice = load_practice(
            write(tmp_path, TEST_PRACTICE | {"sms": {"templates": {"reminder": "Morgen {time}: {practice}"}}})
        )
        assert render(
            practice.sms.template(Template.reminder), practice.sms_fields() | when_fields(LONGEST)
        ) == ("Morgen 23:55: Testpraxis")


class TestGsm7:
    def test_german_letters_stay(self) -> None:
        assert to_gsm7("Grüße aus Köln, Straße ÄÖÜ") == "Grüße aus Köln, Straße ÄÖÜ"

    def test_foreign_letters_lose_accents_not_the_message(self) -> None:
        assert to_gsm7("Dr. Yılmaz, Šimić, Çelik, Łódź") == "Dr. Yilmaz, Simic, Çelik, Lodz"

    def test_typography_becomes_plain(self) -> None:
        assert to_gsm7("„Termin“ – 9…10 Uhr ‚ok‘") == "\"Termin\" - 9...10 Uhr 'ok'"

    def test_what_cannot_be_shown_is_a_question_mark(self) -> None:
        assert to_gsm7("Praxis 😊 中") == "Praxis ? ?"

    def test_extension_characters_count_twice(self) -> None:
        assert gsm7_length("10 € [a]") == 11
        assert gsm7_length("abc") == 3
