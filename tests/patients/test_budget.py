"""Identification budgets through HTTP, as an attacker would try them: per call, per caller number, per
name, through registration, and in parallel; against the real services, NATS and Postgres."""

import asyncio
import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.contracts.patients import IdentifyPatient, PatientIdentified
from ignis.gateway.settings import GatewaySettings
from ignis.kit.clock import utcnow
from ignis.patients import identity, retention
from ignis.patients.models import IdentityAttempt, Patient
from ignis.patients.repository import BudgetUsage, PatientRepository
from ignis.patients.settings import PatientsSettings
from tests.conftest import HEADERS
from tests.factories import MUELLER, patient

pytestmark = pytest.mark.usefixtures("services")

RIGHT = "12.03.1980"  # Anna Müller's birth date


def wrong_date(n: int) -> str:
    return (dt.date(1950, 1, 1) + dt.timedelta(days=n)).strftime("%d.%m.%Y")


@pytest.fixture
async def anna(engine: AsyncEngine) -> Patient:
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        return await PatientRepository(session).add(patient(MUELLER))


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return gateway_settings.model_copy(update={"tool_budget_seconds": 4.0})


def staff(settings: GatewaySettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.staff_token.get_secret_value()}"}


async def identify(
    client: httpx.AsyncClient, birth_date: str, *, conversation: str, caller: str, name: str = "Müller"
) -> dict[str, Any]:
    body = {"conversation_id": conversation, "caller_id": caller, "last_name": name, "birth_date": birth_date}
    response = await client.post("/tools/identify_patient", json=body, headers=HEADERS)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def register(
    client: httpx.AsyncClient, birth_date: str, *, conversation: str, caller: str = "+4930111222"
) -> dict[str, Any]:
    body = {
        "conversation_id": conversation,
        "caller_id": caller,
        "first_name": "Anna",
        "last_name": "Müller",
        "birth_date": birth_date,
        "insurance": "gesetzlich",
        "sms_consent": False,
    }
    response = await client.post("/tools/register_patient", json=body, headers=HEADERS)
    assert response.status_code == 200, response.text
    return dict(response.json())


def new_conversation() -> str:
    return f"conv-{uuid.uuid4().hex[:10]}"


@pytest.mark.usefixtures("anna")
class TestPerCallerNumber:
    async def test_five_failures_from_one_number_lock_it_across_calls(
        self, client: httpx.AsyncClient
    ) -> None:
        caller = "+4915799990000"
        codes = [
            (await identify(client, wrong_date(n), conversation=new_conversation(), caller=caller))["code"]
            for n in range(5)
        ]
        assert codes == ["not_found"] * 4 + ["too_many_attempts"]
        # A new call from the same number, now with the right date: refused, with the offer of a callback.
        locked = await identify(client, RIGHT, conversation=new_conversation(), caller="0157 99990000")
        assert locked["code"] == "too_many_attempts"
        assert "Rückruf" in locked["message"]
        assert "patient_ref" not in locked
        # Another number is not affected.
        other = await identify(client, RIGHT, conversation=new_conversation(), caller="+4915712345678")
        assert other["code"] == "identified"

    async def test_withheld_numbers_share_one_bucket(self, client: httpx.AsyncClient) -> None:
        for n, caller in enumerate(["", "anonymous", "", "unknown", ""]):
            await identify(client, wrong_date(n), conversation=new_conversation(), caller=caller)
        locked = await identify(client, RIGHT, conversation=new_conversation(), caller="")
        assert locked["code"] == "too_many_attempts"
        shown = await identify(client, RIGHT, conversation=new_conversation(), caller="+4915712345678")
        assert shown["code"] == "identified"


class TestPerName:
    @pytest.mark.usefixtures("anna")
    async def test_ten_failures_from_all_callers_lock_the_name_and_alert_staff(
        self, client: httpx.AsyncClient, gateway_settings: GatewaySettings
    ) -> None:
        # Ten callers, ten calls, each one guess; sound-alike spellings count for the same name.
        for n in range(10):
            reply = await identify(
                client,
                wrong_date(n),
                conversation=new_conversation(),
                caller=f"+49157000000{n:02d}",
                name=["Müller", "Mueller", "Möller", "Muller"][n % 4],
            )
            assert reply["code"] == ("too_many_attempts" if n == 9 else "not_found")
        locked = await identify(client, RIGHT, conversation=new_conversation(), caller="+4915712345678")
        assert locked["code"] == "too_many_attempts"
        # Another name is not affected.
        other = await identify(
            client, "1.1.1990", conversation=new_conversation(), caller="+4915712345678", name="Schulze"
        )
        assert other["code"] == "not_found"

        queue = (await client.get("/staff/requests", headers=staff(gateway_settings))).json()["items"]
        [alert] = [item for item in queue if item["urgent"]]
        assert alert["request_kind"] == "nachricht"
        assert "„Mueller“" in alert["details"]  # the last name said
        assert all(wrong_date(n) not in alert["details"] for n in range(10))
        assert "1950" not in alert["details"]

        locks = (await client.get("/staff/identification-locks", headers=staff(gateway_settings))).json()
        [lock] = [item for item in locks["items"] if item["scope"] == "name"]
        assert lock["failures"] == 10
        assert {"muller", "moller"} <= set(lock["names_said"])
        until = dt.datetime.fromisoformat(lock["locked_until"])
        assert dt.timedelta(hours=23) < until - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=24)

        unlocked = await client.post(
            "/staff/identification-locks/unlock",
            json={"scope": "name", "key": lock["key"]},
            headers=staff(gateway_settings),
        )
        assert unlocked.status_code == 200
        again = await identify(client, RIGHT, conversation=new_conversation(), caller="+4915712345678")
        assert again["code"] == "identified"
        locks = (await client.get("/staff/identification-locks", headers=staff(gateway_settings))).json()
        assert [item for item in locks["items"] if item["scope"] == "name"] == []

    @pytest.mark.usefixtures("anna")
    async def test_a_lock_on_a_name_nobody_has_looks_the_same(
        self, client: httpx.AsyncClient, gateway_settings: GatewaySettings
    ) -> None:
        async def lock(name: str) -> dict[str, Any]:
            for n in range(10):
                await identify(
                    client, wrong_date(n), conversation=new_conversation(), caller=f"+4916{n:08d}", name=name
                )
            return await identify(
                client, RIGHT, conversation=new_conversation(), caller="+4917012345", name=name
            )

        existing, nobody = await lock("Müller"), await lock("Quastenflosser")
        assert existing == nobody
        # Staff hear only of the name a patient has.
        queue = (await client.get("/staff/requests", headers=staff(gateway_settings))).json()["items"]
        assert [item["details"] for item in queue if "Quastenflosser" in item["details"]] == []
        assert len([item for item in queue if "Müller" in item["details"]]) == 1


@pytest.mark.usefixtures("anna")
class TestRegistration:
    async def test_one_call_registers_at_most_two_patients(self, client: httpx.AsyncClient) -> None:
        conversation = new_conversation()
        codes = [
            (await register(client, wrong_date(n), conversation=conversation))["code"] for n in range(40)
        ]
        assert codes[:2] == ["registered", "registered"]
        assert set(codes[2:]) == {"too_many_attempts"}
        # Not even the right date is an oracle once the call's budget is used up.
        assert (await register(client, RIGHT, conversation=conversation))["code"] == "too_many_attempts"

    async def test_registrations_draw_on_the_name_budget(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        codes = [
            (await register(client, wrong_date(n), conversation=new_conversation(), caller=f"+4915{n:09d}"))[
                "code"
            ]
            for n in range(12)
        ]
        assert codes == ["registered"] * 10 + ["too_many_attempts"] * 2
        right = await register(client, RIGHT, conversation=new_conversation(), caller="+4915712345678")
        assert right["code"] == "too_many_attempts"
        async with AsyncSession(engine) as session:
            count = await session.scalar(select(func.count()).select_from(Patient))
        assert count == 1 + 10

    async def test_a_registration_counts_as_a_failed_identification_in_the_call(
        self, client: httpx.AsyncClient
    ) -> None:
        conversation = new_conversation()
        assert (await register(client, wrong_date(1), conversation=conversation))["code"] == "registered"
        await identify(client, wrong_date(2), conversation=conversation, caller="+4930111222")
        third = await identify(client, wrong_date(3), conversation=conversation, caller="+4930111222")
        assert third["code"] == "too_many_attempts"


@pytest.mark.usefixtures("anna")
class TestRaces:
    async def test_thirty_parallel_guesses_in_one_call_evaluate_three(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        conversation = new_conversation()
        guesses = [wrong_date(n) for n in range(29)] + [RIGHT]
        replies = await asyncio.gather(
            *(identify(client, date, conversation=conversation, caller="+4930111222") for date in guesses)
        )
        async with AsyncSession(engine) as session:
            counted = await session.scalar(
                select(func.count()).where(IdentityAttempt.conversation_id == conversation)
            )
        assert counted == 3
        codes = [reply["code"] for reply in replies]
        assert codes.count("not_found") == 2
        identified = replies[-1]["code"] == "identified"
        # The right date wins only if it was evaluated before the budget ran out, never after.
        assert codes.count("too_many_attempts") == 28 - int(identified)


class TestRepository:
    @staticmethod
    async def usage(
        repo: PatientRepository, codes: list[str], since: dt.datetime, now: dt.datetime
    ) -> BudgetUsage:
        found = await repo.identification([1], "c", "+4930111222", codes, since, (99, 99, 99), now)
        assert not found.locked
        return found.usage

    async def test_unlock_and_window(self, session: AsyncSession) -> None:
        repo = PatientRepository(session)
        now = utcnow()
        for hours_ago in (30, 2, 1):
            repo.session.add(
                IdentityAttempt(
                    conversation_id="c",
                    kind="failed",
                    caller_key="+4930111222",
                    name_codes=["657"],
                    name_said="muller",
                    attempted_at=now - dt.timedelta(hours=hours_ago),
                )
            )
        await session.flush()
        since = now - dt.timedelta(hours=24)
        usage = await self.usage(repo, ["657", "8"], since, now)
        assert (usage.conversation, usage.caller, usage.names) == (2, 2, {"657": 2, "8": 0})
        await repo.unlock("name", "657", now - dt.timedelta(minutes=90))
        usage = await self.usage(repo, ["657"], since, now)
        assert (usage.caller, usage.names) == (2, {"657": 1})
        assert await retention.purge_expired_attempts(repo, PatientsSettings(), now) == 1
        rows = (await session.execute(text("SELECT count(*) FROM patients.identity_attempt"))).scalar()
        assert rows == 2


@pytest.mark.usefixtures("anna")
class TestWhatTheReviewFound:
    async def test_spelling_a_locked_name_out_in_any_grouping_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        for n in range(10):
            await identify(client, wrong_date(n), conversation=new_conversation(), caller=f"+49157{n:08d}")
        for spelled in ("M ü l l e r", "Mü ller", "Mül l er", "M-ü-l-l-e-r", "MÜL LER"):
            reply = await identify(
                client, RIGHT, conversation=new_conversation(), caller="+4915712345678", name=spelled
            )
            assert reply["code"] == "too_many_attempts", spelled

    async def test_registrations_count_against_the_caller_number(self, client: httpx.AsyncClient) -> None:
        caller = "+4915122220000"
        for n in range(5):
            body = {
                "conversation_id": new_conversation(),
                "caller_id": caller,
                "first_name": "Max",
                "last_name": f"Neu{string_of(n)}",
                "birth_date": "1.2.1990",
                "insurance": "gesetzlich",
                "sms_consent": False,
            }
            registered = await client.post("/tools/register_patient", json=body, headers=HEADERS)
            assert registered.json()["code"] == "registered"
        locked = await identify(client, RIGHT, conversation=new_conversation(), caller=caller)
        assert locked["code"] == "too_many_attempts"

    async def test_a_repeated_registration_hears_the_same_answer(self, client: httpx.AsyncClient) -> None:
        """The gateway asks again when a reply was lost: even at the call's limits the repeat is answered
        as the first call was, with the same ref."""
        conversation = new_conversation()
        for n in range(2):
            await identify(client, wrong_date(n), conversation=conversation, caller="+4930111222")
        first = await register(client, "3.4.1999", conversation=conversation)
        again = await register(client, "3.4.1999", conversation=conversation)
        assert first["code"] == again["code"] == "registered"
        assert first["patient_ref"] == again["patient_ref"]


def string_of(n: int) -> str:
    """A last name part that sounds different for every n (so no name budget is shared)."""
    return ["bauer", "koch", "wagner", "becker", "hoffmann"][n]


@pytest.mark.usefixtures("anna")
class TestDurability:
    """Only a success may commit without waiting for the disk; every counted attempt waits for it, so a
    Postgres crash can lose an issued ref (the caller is asked again) but never a counted guess."""

    async def commit_mode_after(
        self, engine: AsyncEngine, settings: PatientsSettings, birth_date: dt.date
    ) -> tuple[str, str]:
        cmd = IdentifyPatient(
            conversation_id=new_conversation(),
            caller_id="+4930111222",
            last_name="Müller",
            birth_date=birth_date,
        )
        async with AsyncSession(engine) as session, session.begin():
            reply = await identity.identify(PatientRepository(session), settings, cmd, utcnow())
            mode = await session.scalar(text("SHOW synchronous_commit"))
        return ("identified" if isinstance(reply, PatientIdentified) else reply.code.value), str(mode)

    async def test_a_success_does_not_wait_for_the_disk(
        self, engine: AsyncEngine, patients_settings: PatientsSettings
    ) -> None:
        assert await self.commit_mode_after(engine, patients_settings, dt.date(1980, 3, 12)) == (
            "identified",
            "off",
        )

    async def test_a_failed_attempt_is_committed_durably(
        self, engine: AsyncEngine, patients_settings: PatientsSettings
    ) -> None:
        outcome, mode = await self.commit_mode_after(engine, patients_settings, dt.date(1981, 3, 12))
        assert (outcome, mode) == ("not_found", "on")
        async with AsyncSession(engine) as session:
            counted = await session.scalar(select(func.count()).select_from(IdentityAttempt))
        assert counted == 1
