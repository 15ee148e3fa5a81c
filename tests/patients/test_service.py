"""Pure rules of the patients service: who matches, and phone normalisation."""

import pytest

from ignis.kit.phones import to_e164
from ignis.patients.identity import find_matches, salutation_of
from tests.factories import (
    GROSS,
    MAYER_1,
    MAYER_2,
    MUELLER,
    SCHMIDT_KARL,
    SCHMIDT_KLARA,
    WEIZSAECKER,
    patient,
)


class TestFindMatches:
    @pytest.mark.parametrize("spoken", ["Müller", "Mueller", "Muller", "MÜLLER", "müller"])
    def test_umlaut_spellings_find_the_patient(self, spoken: str) -> None:
        anna = patient(MUELLER)
        assert find_matches([anna, patient(GROSS)], spoken, None) == [anna]

    @pytest.mark.parametrize("spoken", ["Groß", "Gross", "GROSS"])
    def test_sharp_s(self, spoken: str) -> None:
        juergen = patient(GROSS)
        assert find_matches([juergen], spoken, None) == [juergen]

    @pytest.mark.parametrize("spoken", ["Weizsäcker", "von Weizsaecker", "Von Weizsäcker"])
    def test_particles(self, spoken: str) -> None:
        lea = patient(WEIZSAECKER)
        assert find_matches([lea], spoken, None) == [lea]

    def test_phonetic_near_miss_is_accepted_when_nothing_matches_exactly(self) -> None:
        anna = patient(MUELLER)
        assert find_matches([anna], "Müler", None) == [anna]

    def test_exact_spelling_wins_over_phonetic_neighbour(self) -> None:
        meier, mayer = patient(MAYER_1), patient(MAYER_1)
        meier.last_name = "Meier"
        assert find_matches([meier, mayer], "Mayer", None) == [mayer]

    def test_same_name_and_birth_date_is_ambiguous_until_first_name(self) -> None:
        klara, karl = patient(SCHMIDT_KLARA), patient(SCHMIDT_KARL)
        assert len(find_matches([klara, karl], "Schmidt", None)) == 2
        assert find_matches([klara, karl], "Schmidt", "Klara") == [klara]

    def test_identical_records_stay_ambiguous(self) -> None:
        assert len(find_matches([patient(MAYER_1), patient(MAYER_2)], "Mayer", "Peter")) == 2

    def test_wrong_first_name_matches_nobody(self) -> None:
        assert find_matches([patient(MUELLER)], "Müller", "Berta") == []

    def test_other_name_matches_nobody(self) -> None:
        assert find_matches([patient(MUELLER)], "Schulze", None) == []


class TestSalutation:
    def test_with_and_without_recorded_salutation(self) -> None:
        anna = patient(MUELLER)
        assert salutation_of(anna) == "Frau Müller"
        anna.salutation = None
        assert salutation_of(anna) == "Anna Müller"


class TestToE164:
    @pytest.mark.parametrize(
        "number", ["0151 23456789", "+49151 23456789", "0049 151 23456789", "+49 (151) 234-56789"]
    )
    def test_german_spellings_are_one_number(self, number: str) -> None:
        assert to_e164(number) == "+4915123456789"

    def test_foreign_number_keeps_its_country(self) -> None:
        assert to_e164("+43 664 1234567") == "+436641234567"

    @pytest.mark.parametrize("number", ["", "anonymous", "12", "0151", "+49 000 0000"])
    def test_invalid(self, number: str) -> None:
        assert to_e164(number) is None
