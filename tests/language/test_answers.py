"""The agent's words for a closed choice: understood when known, else passed on or the default."""

import pytest

from ignis.language import answers


@pytest.mark.parametrize(
    ("understand", "said", "meant"),
    [
        (answers.yes_no, " Ja ", True),
        (answers.yes_no, "NEIN", False),
        (answers.yes_no, "vielleicht", "vielleicht"),
        (answers.insurance, "Kasse", "gesetzlich"),
        (answers.insurance, "Privatpatient", "privat"),
        (answers.salutation, "frau", "Frau"),
        (answers.salutation, "  ", None),
        (answers.request_kind, "Rückruf", "rueckruf"),
        (answers.request_kind, "AU", "krankschreibung"),
        (answers.request_kind, "Folgerezept", "rezept"),
        (answers.request_kind, "Termin", "Termin"),
        (answers.topic, "Öffnungszeiten", "oeffnungszeiten"),
        (answers.topic, "Schließtage", "schliesstage"),
        (answers.topic, "Alles", "alles"),
        (answers.topic, "Parkplatz", "alles"),
        (answers.topic, 3, 3),
    ],
)
def test_choices(understand: object, said: object, meant: object) -> None:
    assert callable(understand)
    assert understand(said) == meant
