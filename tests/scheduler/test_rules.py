"""The practice's rules (new patients, insurance kinds, ages, referral) for a verified caller, through the
gateway's tools with both services, NATS and Postgres for real."""

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from ignis.practice.config import PracticeConfigError, load_practice
from tests.conftest import TEST_PRACTICE, Caller, verified_caller
from tests.factories import GROSS, MUELLER, NEW_PATIENT
from tests.scheduler.test_booking import tool

RULES = {
    "rules": {"new_patients": False, "insurance": ["gesetzlich", "privat"]},
    "visit_types": [
        {"id": "akut", "name": "Akutsprechstunde", "minutes": 10, "rules": {"new_patients": True}},
        {
            "id": "vorsorge",
            "name": "Vorsorgeuntersuchung",
            "minutes": 30,
            "rules": {"min_age": 35, "max_age": 70},
        },
        {
            "id": "kardio",
            "name": "Kardiologische Sprechstunde",
            "minutes": 20,
            "rules": {"insurance": ["privat"], "referral": True},
        },
    ],
}


@pytest.fixture
def practice_file(tmp_path: Path) -> Path:
    path = tmp_path / "practice.yaml"
    path.write_text(yaml.safe_dump(TEST_PRACTICE | RULES, allow_unicode=True), encoding="utf-8")
    return path


async def find(client: httpx.AsyncClient, caller: Caller, visit_type: str, **wish: Any) -> dict[str, Any]:
    return await tool(client, "find_slots", caller.body(visit_type=visit_type, **wish))


async def registered(client: httpx.AsyncClient, insurance: str) -> Caller:
    """A new patient, registered by phone in a conversation of their own."""
    conversation = f"conv-new-{insurance}"
    body = {
        "conversation_id": conversation,
        "first_name": NEW_PATIENT.first_name,
        "last_name": NEW_PATIENT.last_name,
        "birth_date": NEW_PATIENT.birth_date.isoformat(),
        "insurance": insurance,
        "sms_consent": False,
    }
    reply = await tool(client, "register_patient", body)
    assert reply["code"] == "registered", reply
    return Caller(conversation, reply["patient_ref"], patient_id=None)  # type: ignore[arg-type]


@pytest.mark.usefixtures("services")
class TestRules:
    async def test_a_patient_of_the_practice_within_the_rules_gets_slots(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        mueller = await verified_caller(engine, MUELLER)  # 46, gesetzlich, from the practice's records
        assert (await find(client, mueller, "vorsorge"))["code"] == "slots"
        assert (await find(client, mueller, "akut"))["code"] == "slots"

    async def test_age_limits_count_on_the_day_of_the_visit(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        gross = await verified_caller(engine, GROSS)  # 71
        reply = await find(client, gross, "Vorsorgeuntersuchung")
        assert (reply["ok"], reply["code"], reply["reason"]) == (False, "not_offered", "too_old")
        assert "70 Jahren" in reply["explanation"]
        assert reply["visit_type"] == "Vorsorgeuntersuchung"

    async def test_insurance_and_referral(self, client: httpx.AsyncClient, engine: AsyncEngine) -> None:
        mueller = await verified_caller(engine, MUELLER)
        reply = await find(client, mueller, "kardio")
        assert (reply["code"], reply["reason"]) == ("not_offered", "insurance")
        assert "privat Versicherte" in reply["explanation"]

        private = await registered(client, "privat")  # insured as asked, but new to the practice
        reply = await find(client, private, "kardio")
        assert (reply["code"], reply["reason"]) == ("not_offered", "new_patients")

    async def test_new_patients_only_where_the_visit_type_takes_them(self, client: httpx.AsyncClient) -> None:
        new = await registered(client, "gesetzlich")
        refused = await find(client, new, "vorsorge")
        assert (refused["code"], refused["reason"]) == ("not_offered", "new_patients")
        assert "schon bei uns in Behandlung" in refused["explanation"]
        slots = (await find(client, new, "akut"))["slots"]
        booked = await tool(client, "book_appointment", new.body(slot_id=slots[0]["slot_id"]))
        assert booked["code"] == "booked"

    async def test_practice_wide_insurance_rule(self, client: httpx.AsyncClient) -> None:
        self_paying = await registered(client, "selbstzahler")
        reply = await find(client, self_paying, "akut")
        assert (reply["code"], reply["reason"]) == ("not_offered", "insurance")

    async def test_without_a_ref_slots_are_shown_but_booking_checks(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        gross = await verified_caller(engine, GROSS)
        anonymous = await tool(
            client, "find_slots", {"conversation_id": gross.conversation_id, "visit_type": "vorsorge"}
        )
        assert anonymous["code"] == "slots"
        slot = anonymous["slots"][0]
        refused = await tool(client, "book_appointment", gross.body(slot_id=slot["slot_id"]))
        assert (refused["ok"], refused["code"], refused["reason"]) == (False, "not_offered", "too_old")
        assert (await tool(client, "list_appointments", gross.body()))["appointments"] == []

    async def test_a_ref_of_another_conversation_is_not_verified(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        mueller = await verified_caller(engine, MUELLER)
        body = {"conversation_id": "other", "patient_ref": mueller.patient_ref, "visit_type": "akut"}
        assert (await tool(client, "find_slots", body))["code"] == "not_verified"


@pytest.mark.usefixtures("services")
class TestReferral:
    @pytest.fixture
    def practice_file(self, tmp_path: Path) -> Path:
        """Cardiology for the practice's own patients of every insurance, with a referral."""
        kardio = RULES["visit_types"][2] | {"rules": {"referral": True}}  # type: ignore[operator]
        practice = TEST_PRACTICE | {"visit_types": [*RULES["visit_types"][:2], kardio]}  # type: ignore[misc]
        path = tmp_path / "practice.yaml"
        path.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")
        return path

    async def test_a_referral_is_asked_for_then_booked(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        mueller = await verified_caller(engine, MUELLER)
        asked = await find(client, mueller, "kardio")
        assert (asked["code"], asked["reason"]) == ("not_offered", "referral")
        assert "Überweisung" in asked["explanation"]
        slots = (await find(client, mueller, "kardio", referral=True))["slots"]
        without = await tool(client, "book_appointment", mueller.body(slot_id=slots[0]["slot_id"]))
        assert (without["code"], without["reason"]) == ("not_offered", "referral")
        booked = await tool(
            client, "book_appointment", mueller.body(slot_id=slots[0]["slot_id"], referral=True)
        )
        assert booked["code"] == "booked"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"rules": {"insurance": ["kasse"]}}, "rules.insurance"),
        ({"rules": {"insurance": []}}, "rules.insurance"),
        ({"rules": {"min_age": -1}}, "rules.min_age"),
        ({"rules": {"minimum_age": 18}}, "rules.minimum_age"),
        (
            {
                "visit_types": [
                    {"id": "v", "name": "V", "minutes": 10, "rules": {"min_age": 40, "max_age": 30}}
                ]
            },
            "visit_types.0.rules",
        ),
    ],
)
def test_a_broken_rule_names_its_key(tmp_path: Path, change: dict[str, object], named: str) -> None:
    path = tmp_path / "practice.yaml"
    path.write_text(yaml.safe_dump(TEST_PRACTICE | change, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PracticeConfigError) as info:
        load_practice(path)
    assert named in str(info.value)


def test_a_visit_types_rule_wins_over_the_practices(tmp_path: Path) -> None:
    path = tmp_path / "practice.yaml"
    path.write_text(yaml.safe_dump(TEST_PRACTICE | RULES, allow_unicode=True), encoding="utf-8")
    practice = load_practice(path)
    akut, vorsorge, kardio = practice.visit_types
    assert practice.rules_for(akut).new_patients is True
    assert practice.rules_for(vorsorge).new_patients is False
    assert practice.rules_for(vorsorge).insurance == ["gesetzlich", "privat"]
    assert practice.rules_for(kardio).insurance == ["privat"]
    assert (practice.rules_for(akut).referral, practice.rules_for(kardio).referral) == (False, True)
