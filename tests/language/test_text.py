"""One folding for every comparison of words: spellings of the same word give the same key."""

import pytest

from ignis.language.text import fold


@pytest.mark.parametrize(
    ("spellings", "key"),
    [
        (("Müller", "Mueller", "MÜLLER", "Mu\u0308ller"), "mueller"),
        (("Erstgespräch", "Erstgespraech", "ERSTGESPRÄCH"), "erstgespraech"),
        (("Straße", "STRASSE", "Strasse"), "strasse"),
        (("José", "Jose"), "jose"),
        (("Søren", "Soren"), "soren"),
        (("  Frau \t Dr.  Weiß ",), "frau dr. weiss"),
    ],
)
def test_spellings_fold_alike(spellings: tuple[str, ...], key: str) -> None:
    assert {fold(spelling) for spelling in spellings} == {key}
