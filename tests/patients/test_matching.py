"""Name matching for caller identification: spelling variants, particles, double names and sound-alikes."""

import pytest

from ignis.patients.matching import NameMatch, koelner_phonetik, match_name, normalise, phonetic


class TestNormalise:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("Müller", "muller"),
            ("Mueller", "muller"),
            ("Muller", "muller"),
            ("MÜLLER", "muller"),
            ("MUELLER", "muller"),
            ("Mu\u0308ller", "muller"),  # decomposed ü, as some keyboards and transcribers send it
            ("Strauß", "strauss"),
            ("STRAUẞ", "strauss"),
            ("Strauss", "strauss"),
            ("Josée", "josee"),
            ("François", "francois"),
            ("Ölschläger", "olschlager"),
            ("Schröder", "schroder"),
            ("Søren", "soren"),
            ("Łukasz", "lukasz"),
        ],
    )
    def test_spelling_variants(self, name: str, expected: str) -> None:
        assert normalise(name) == expected

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("Müller-Lüdenscheidt", "muller ludenscheidt"),
            ("Müller – Lüdenscheidt", "muller ludenscheidt"),
            ("  Anna   Maria  ", "anna maria"),
            ("O'Brien", "o brien"),
            ("D’Angelo", "d angelo"),
            ("St. Clair", "st clair"),
            ("Müller2", "muller"),
        ],
    )
    def test_splits_parts(self, name: str, expected: str) -> None:
        assert normalise(name) == expected

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("von Weizsäcker", "weizsacker"),
            ("von der Leyen", "leyen"),
            ("Freiherr zu Guttenberg", "freiherr guttenberg"),
            ("van den Berg", "berg"),
            ("de la Cruz", "cruz"),
            ("Le Pen", "pen"),
            ("von und zu Lichtenstein", "lichtenstein"),
            ("Von", "von"),  # a name that is only particles is kept as it is
            ("van der", "van der"),
        ],
    )
    def test_drops_particles(self, name: str, expected: str) -> None:
        assert normalise(name) == expected

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("Bauer", "bauer"),  # "ue" after a vowel is a diphthong, not an umlaut spelling
            ("Breuer", "breuer"),
            ("Bäuerle", "bauerle"),
            ("Quelle", "quelle"),
        ],
    )
    def test_keeps_ue_that_is_no_umlaut(self, name: str, expected: str) -> None:
        assert normalise(name) == expected

    @pytest.mark.parametrize("name", ["", "   ", "123", "-", "'.-"])
    def test_letterless_is_empty(self, name: str) -> None:
        assert normalise(name) == ""


class TestKoelnerPhonetik:
    @pytest.mark.parametrize(
        ("word", "expected"),
        [
            ("Müller-Lüdenscheidt", "65752682"),
            ("Wikipedia", "3412"),
            ("Breschnew", "17863"),
            ("Meyer", "67"),
            ("Maier", "67"),
            ("Mayr", "67"),
            ("Meier", "67"),
            ("Schmidt", "862"),
            ("Schmitt", "862"),
            ("Schmid", "862"),
            ("Fischer", "387"),
            ("Vischer", "387"),
            ("Müller", "657"),
            ("Mueller", "657"),
            ("Schulze", "858"),
        ],
    )
    def test_published_examples(self, word: str, expected: str) -> None:
        assert koelner_phonetik(word) == expected

    @pytest.mark.parametrize(
        ("word", "expected"),
        [
            ("Anna", "06"),  # a leading vowel keeps its 0
            ("Hans", "068"),  # H has no code, so the A is the first code
            ("Philipp", "351"),  # P before H is 3, otherwise 1
            ("Carl", "475"),  # initial C before A, H, K, L, O, Q, R, U, X is 4
            ("Celle", "85"),  # initial C before anything else is 8
            ("Lucas", "548"),  # C before A, H, K, O, Q, U, X is 4
            ("Lucie", "58"),  # C before other letters is 8
            ("Schack", "84"),  # C after S is 8
            ("Hatz", "08"),  # T before Z is 8, duplicates collapse
            ("Dieter", "227"),
            ("Max", "648"),  # X is 48
            ("Dachs", "248"),
            ("Hexe", "048"),
            ("Axel", "0485"),
            ("Kx", "48"),  # X after C, K, Q is 8 (no real name needed to show it)
            ("Ax", "048"),
            ("Strauß", "8278"),  # ß counts as SS
        ],
    )
    def test_contextual_rules(self, word: str, expected: str) -> None:
        assert koelner_phonetik(word) == expected

    @pytest.mark.parametrize("word", ["", "h", "123", "-"])
    def test_no_code(self, word: str) -> None:
        assert koelner_phonetik(word) == ""


class TestPhonetic:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("Müller", "657"),
            ("Müller-Lüdenscheidt", "657 52682"),
            ("von Weizsäcker", "3847"),
            ("Anna M.", "06"),  # initials carry no pronunciation
            ("", ""),
            ("123", ""),
        ],
    )
    def test_codes_of_parts(self, name: str, expected: str) -> None:
        assert phonetic(name) == expected


class TestMatchName:
    @pytest.mark.parametrize(
        ("spoken", "stored"),
        [
            ("Müller", "Müller"),
            ("Mueller", "Müller"),
            ("Muller", "Müller"),
            ("MÜLLER", "Müller"),
            ("müller", "MUELLER"),
            ("Strauss", "Strauß"),
            ("Josee", "Josée"),
            ("Francois", "François"),
            ("  Müller ", "Müller"),
        ],
    )
    def test_spelling_variants_are_exact(self, spoken: str, stored: str) -> None:
        assert match_name(spoken, stored) is NameMatch.EXACT
        assert match_name(stored, spoken) is NameMatch.EXACT

    @pytest.mark.parametrize(
        ("spoken", "stored"),
        [
            ("Müller", "Müller-Lüdenscheidt"),
            ("Lüdenscheidt", "Müller-Lüdenscheidt"),
            ("Mueller Luedenscheidt", "Müller-Lüdenscheidt"),
            ("MüllerLüdenscheidt", "Müller-Lüdenscheidt"),
            ("Lüdenscheidt-Müller", "Müller-Lüdenscheidt"),
            ("Weizsaecker", "von Weizsäcker"),
            ("von Weizsäcker", "Weizsäcker"),
            ("Leyen", "von der Leyen"),
            ("Anna", "Anna Maria"),
            ("Anna-Maria", "Anna Maria"),
        ],
    )
    def test_double_names_and_particles_are_exact(self, spoken: str, stored: str) -> None:
        assert match_name(spoken, stored) is NameMatch.EXACT

    @pytest.mark.parametrize(
        ("spoken", "stored"),
        [
            ("Meier", "Mayer"),
            ("Maier", "Meyer"),
            ("Mayr", "Meier"),
            ("Schmitt", "Schmidt"),
            ("Schmid", "Schmidt"),
            ("Fischer", "Vischer"),
            ("Bauer", "Baur"),
            ("Müler", "Müller"),
            ("Möller", "Müller"),
            ("Schmitt", "Müller-Schmidt"),  # sound-alike of one part of a double name
            ("Mueler Luedenschaid", "Müller-Lüdenscheidt"),
            ("Müler Lüdenscheid", "MüllerLüdenscheidt"),  # run together on one side only
            ("Kristof", "Christoph"),
        ],
    )
    def test_sound_alikes_are_phonetic(self, spoken: str, stored: str) -> None:
        assert match_name(spoken, stored) is NameMatch.PHONETIC
        assert match_name(stored, spoken) is NameMatch.PHONETIC

    @pytest.mark.parametrize(
        ("spoken", "stored"),
        [
            ("Müller", "Schulze"),
            ("Meier", "Müller"),
            ("Schmidt", "Schneider"),
            ("Müller", "Lüdenscheidt"),
            ("Anna", "Maria"),
            ("M.", "Mann"),  # an initial is no evidence of how a name sounds
            ("M", "Müller"),
            ("Müller", "Maurer-Lüdenscheidt"),
        ],
    )
    def test_different_names_do_not_match(self, spoken: str, stored: str) -> None:
        assert match_name(spoken, stored) is NameMatch.NONE
        assert match_name(stored, spoken) is NameMatch.NONE

    @pytest.mark.parametrize(
        ("spoken", "stored"),
        [
            ("", "Müller"),
            ("Müller", ""),
            ("", ""),
            ("   ", "   "),
            ("123", "123"),
            ("-", "Müller"),
            ("...", "..."),
        ],
    )
    def test_empty_or_letterless_matches_nothing(self, spoken: str, stored: str) -> None:
        assert match_name(spoken, stored) is NameMatch.NONE

    def test_levels_are_ordered(self) -> None:
        assert NameMatch.NONE < NameMatch.PHONETIC < NameMatch.EXACT
        assert not NameMatch.NONE
