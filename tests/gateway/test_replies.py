"""`message` is said to the caller, `hint` guides the agent: no text for one audience in the other's field."""

import re

import pytest

from ignis.gateway.replies import HINTS, MESSAGES

# What only the agent can act on: its tools and fields, the caller in the third person, orders to read out
# or to offer (the caller reads and offers nothing).
FOR_THE_AGENT = re.compile(
    r"`|\b[a-z]+_[a-z_]+\b|Werkzeug|Tool|\bAnrufer|des Patienten|dem Patienten|der Patient\b|"
    r"\b(?:lesen|bieten|suchen|fragen) Sie\b|Vorschläge vor|Alternativen an|steht dabei|"
    r"\b(?:lies|biete)\b",
    re.IGNORECASE,
)


def is_for_the_caller(text: str) -> bool:
    return FOR_THE_AGENT.search(text) is None


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_is_for_the_caller(key: str) -> None:
    assert is_for_the_caller(MESSAGES[key]), MESSAGES[key]


@pytest.mark.parametrize(
    "text",
    [
        "Ich habe folgende freie Termine gefunden. Bitte lesen Sie die Vorschläge vor.",
        "Dieser Termin wurde gerade vergeben. Bitte bieten Sie eine der Alternativen an.",
        "Das sind die anstehenden Termine des Patienten.",
        "Bitte suchen Sie zuerst freie Termine.",
        "Rufe `list_appointments` auf.",
    ],
)
def test_the_check_catches_guidance_for_the_agent(text: str) -> None:
    assert not is_for_the_caller(text)


def test_every_hint_belongs_to_a_message() -> None:
    assert set(HINTS) <= set(MESSAGES)
