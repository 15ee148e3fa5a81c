"""What the agent is told about the tools' replies and about dates: `message` is said, `hint` is not."""

from ignis.contracts.tools import FindSlotsBody
from ignis.practice.config import load_practice
from ignis.provision.agent import body_schema, render_texts


def test_the_prompt_explains_message_and_hint() -> None:
    texts = render_texts(load_practice())
    assert "`message`" in texts.prompt
    assert "`hint`" in texts.prompt
    assert "lies `hint` nie vor" in texts.prompt
    assert "`hint`" in texts.tool_descriptions["find_slots"]


def test_find_slots_takes_the_callers_words_for_the_time() -> None:
    texts = render_texts(load_practice())
    assert "`when`" in texts.prompt
    assert "`when`" in texts.tool_descriptions["find_slots"]
    properties = body_schema(FindSlotsBody)["properties"]
    assert properties["when"]["type"] == "string"
    assert "nächste Woche" in properties["when"]["description"]
    assert "ab 16 Uhr" in properties["part_of_day"]["description"]
