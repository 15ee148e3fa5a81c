"""ignis.fhir's client against Medplum's FHIR engine: conditional create, version-checked writes,
transactions, the server's auth, and errors that say what happened without quoting patient data."""

import asyncio

import pytest
from pydantic import SecretStr, ValidationError

from ignis.fhir.client import (
    FhirClient,
    FhirIncomplete,
    FhirNotFound,
    FhirPreconditionFailed,
    FhirRejected,
    FhirUnauthorized,
    FhirUnavailable,
    reference,
    token,
    version_of,
)
from ignis.fhir.settings import FhirSettings
from ignis.kit.embedded import free_port
from tests.factories import MUELLER
from tests.fhir_engine.engine import FhirEngine

SYSTEM = "urn:ignis:test"


def patient_resource(key: str) -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": SYSTEM, "value": key}],
        "name": [{"family": MUELLER.last_name, "given": [MUELLER.first_name]}],
        "birthDate": MUELLER.birth_date.isoformat(),
    }


async def test_conditional_create_makes_one_resource_however_often_it_is_sent(fhir: FhirClient) -> None:
    first = await fhir.create(patient_resource("a"), if_none_exist={"identifier": token(SYSTEM, "a")})
    again = await fhir.create(patient_resource("a"), if_none_exist={"identifier": token(SYSTEM, "a")})
    together = await asyncio.gather(
        *(
            fhir.create(patient_resource("b"), if_none_exist={"identifier": token(SYSTEM, "b")})
            for _ in range(8)
        )
    )

    assert first.created
    assert not again.created
    assert again.resource["id"] == first.resource["id"]
    assert sum(created.created for created in together) == 1
    assert len({created.resource["id"] for created in together}) == 1
    assert len(await fhir.search("Patient", {"birthdate": MUELLER.birth_date.isoformat()})) == 2


async def test_search_by_birth_date_and_by_patient_reference(fhir: FhirClient) -> None:
    anna = (await fhir.create(patient_resource("a"))).resource
    await fhir.create({**patient_resource("x"), "birthDate": "1999-01-01"})
    task = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "for": reference("Patient", anna["id"]),
    }
    await fhir.create(task)

    born = await fhir.search("Patient", {"birthdate": MUELLER.birth_date.isoformat()})
    tasks = await fhir.search("Task", {"patient": f"Patient/{anna['id']}"})

    assert [p["id"] for p in born] == [anna["id"]]
    assert len(tasks) == 1


async def test_a_search_the_server_cut_short_is_an_error_not_a_partial_answer(fhir: FhirClient) -> None:
    # The in-memory engine pages without `next` links; a partial candidate list would identify wrongly.
    for key in "abcde":
        await fhir.create(patient_resource(key))

    assert len(await fhir.search("Patient", {"birthdate": MUELLER.birth_date.isoformat()}, count=10)) == 5
    with pytest.raises(FhirIncomplete):
        await fhir.search("Patient", {"birthdate": MUELLER.birth_date.isoformat()}, count=2)


async def test_a_stale_version_is_refused_and_the_current_one_wins(fhir: FhirClient) -> None:
    task = (await fhir.create({"resourceType": "Task", "status": "requested", "intent": "order"})).resource
    accepted = await fhir.update({**task, "status": "accepted"}, if_match=version_of(task))

    with pytest.raises(FhirPreconditionFailed) as refused:
        await fhir.update({**task, "status": "rejected"}, if_match=version_of(task))

    assert refused.value.status == 412
    assert (await fhir.read("Task", task["id"]))["status"] == "accepted"
    assert version_of(accepted) != version_of(task)


async def test_a_transaction_is_all_or_nothing(fhir: FhirClient) -> None:
    task = (await fhir.create({"resourceType": "Task", "status": "requested", "intent": "order"})).resource
    note = {"resourceType": "Communication", "status": "completed"}

    def entries(version: str) -> list[dict[str, object]]:
        return [
            {"resource": note, "request": {"method": "POST", "url": "Communication"}},
            {
                "resource": {**task, "status": "completed"},
                "request": {"method": "PUT", "url": f"Task/{task['id']}", "ifMatch": f'W/"{version}"'},
            },
        ]

    with pytest.raises(FhirPreconditionFailed):
        await fhir.transaction(entries("stale"))
    assert await fhir.search("Communication", {}) == []

    answers = await fhir.transaction(entries(version_of(task)))
    assert [answer["response"]["status"][:3] for answer in answers] == ["201", "200"]
    assert len(await fhir.search("Communication", {})) == 1


async def test_errors_are_typed_and_quote_no_patient_data(fhir: FhirClient) -> None:
    with pytest.raises(FhirNotFound) as missing:
        await fhir.read("Patient", "nobody")
    with pytest.raises(FhirRejected) as wrong:
        # A PUT whose body names no id: refused as a whole.
        await fhir.transaction(
            [{"resource": patient_resource("a"), "request": {"method": "PUT", "url": "Patient/x"}}]
        )

    assert missing.value.status == 404
    for error in (missing.value, wrong.value):
        assert MUELLER.last_name not in str(error)
        assert MUELLER.birth_date.isoformat() not in str(error)


async def test_a_server_that_is_away_is_unavailable_not_a_hang() -> None:
    async with FhirClient(f"http://127.0.0.1:{free_port()}/fhir/R4", timeout_seconds=1) as client:
        with pytest.raises(FhirUnavailable):
            await client.search("Patient", {"birthdate": MUELLER.birth_date.isoformat()})


class TestAuth:
    async def test_basic_client_id_and_secret_as_aidbox_uses(
        self, fhir_engine: FhirEngine, fhir_url: str
    ) -> None:
        fhir_engine.demand_auth("basic", "ignis", "s3cret")
        async with FhirClient(fhir_url, auth="basic", client_id="ignis", client_secret="s3cret") as client:
            assert await client.search("Patient", {}) == []
        async with FhirClient(fhir_url, auth="basic", client_id="ignis", client_secret="wrong") as client:
            with pytest.raises(FhirUnauthorized):
                await client.search("Patient", {})

    async def test_a_fixed_bearer_token(self, fhir_engine: FhirEngine, fhir_url: str) -> None:
        fhir_engine.demand_auth("bearer", client_secret="t0ken")
        async with FhirClient(fhir_url, auth="bearer", client_secret="t0ken") as client:
            assert await client.search("Patient", {}) == []
        async with FhirClient(fhir_url) as client:
            with pytest.raises(FhirUnauthorized):
                await client.search("Patient", {})

    async def test_oauth2_client_credentials_as_medplum_uses_renewed_when_revoked(
        self, fhir_engine: FhirEngine, fhir_url: str
    ) -> None:
        fhir_engine.demand_auth("oauth2", "ignis", "s3cret")
        async with FhirClient(
            fhir_url,
            auth="oauth2",
            client_id="ignis",
            client_secret="s3cret",
            token_url=fhir_engine.token_url,
        ) as client:
            await client.create(patient_resource("a"))
            fhir_engine.demand_auth("oauth2", "ignis", "s3cret")  # every token issued so far is revoked

            assert len(await client.search("Patient", {})) == 1

        async with FhirClient(
            fhir_url, auth="oauth2", client_id="ignis", client_secret="wrong", token_url=fhir_engine.token_url
        ) as client:
            with pytest.raises(FhirUnauthorized):
                await client.search("Patient", {})


class TestSettings:
    def test_ignis_records_need_no_fhir_server(self) -> None:
        assert FhirSettings().records == "ignis"

    def test_fhir_records_need_the_url_and_the_credentials_of_the_auth(self) -> None:
        with pytest.raises(ValidationError, match="IGNIS_FHIR_URL"):
            FhirSettings(records="fhir")
        with pytest.raises(ValidationError, match="IGNIS_FHIR_TOKEN_URL"):
            FhirSettings(
                records="fhir",
                fhir_url="http://x",
                fhir_auth="oauth2",
                fhir_client_id="i",
                fhir_client_secret=SecretStr("s"),
            )
        settings = FhirSettings(
            records="fhir",
            fhir_url="http://x/fhir",
            fhir_auth="basic",
            fhir_client_id="i",
            fhir_client_secret=SecretStr("s"),
        )
        assert FhirClient.from_settings(settings).base_url == "http://x/fhir/"
