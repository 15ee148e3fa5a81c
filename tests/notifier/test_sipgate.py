"""The sipgate client against the local fake: the documented request, and each answer turned into an
outcome that says whether sending again is safe."""

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from ignis.kit.embedded import free_port
from ignis.notifier.providers import LogProvider, Outcome, SipgateProvider, make_provider
from ignis.notifier.settings import NotifierSettings
from tests.fakes import sipgate as fake
from tests.fakes.sipgate import HANG, FakeSipgate


def settings(url: str, **overrides: object) -> NotifierSettings:
    values: dict[str, object] = {
        "sms_provider": "sipgate",
        "sipgate_api_url": url,
        "sipgate_token_id": fake.TOKEN_ID,
        "sipgate_token": SecretStr(fake.TOKEN),
        "sms_timeout_seconds": 0.5,
    } | overrides
    return NotifierSettings(**values)  # type: ignore[arg-type]


async def send(url: str, **overrides: object) -> Outcome:
    provider = SipgateProvider(settings(url, **overrides))
    try:
        return (await provider.send("+4915123456789", "Testpraxis: Termin", "m-1")).outcome
    finally:
        await provider.aclose()


class TestRequest:
    async def test_documented_request(self, sipgate: FakeSipgate) -> None:
        assert await send(sipgate.url) == Outcome.sent
        [request] = sipgate.requests
        assert request.status == 204
        assert request.body == {"smsId": "s0", "recipient": "+4915123456789", "message": "Testpraxis: Termin"}
        assert request.headers["content-type"] == "application/json"
        assert request.headers["accept"] == "application/json"
        # The example of sipgate's authentication page, byte for byte.
        assert request.headers["authorization"] == (
            "Basic dG9rZW4tRlExVjEyOmU2OGVhZDQ2LWE3ZGItNDZjZC04YTFhLTQ0YWVkMWU0ZTM3Mg=="
        )

    async def test_wrong_token_is_refused_by_the_fake(self, sipgate: FakeSipgate) -> None:
        wrong = SecretStr("00000000-0000-4000-8000-000000000000")
        assert await send(sipgate.url, sipgate_token=wrong) == Outcome.failed
        assert sipgate.requests[0].status == 401

    async def test_unbooked_sms_extension(self, sipgate: FakeSipgate) -> None:
        assert await send(sipgate.url, sipgate_sms_id="s7") == Outcome.failed
        assert sipgate.requests[0].status == 403

    async def test_fake_checks_the_content_type(self, sipgate: FakeSipgate) -> None:
        async with httpx.AsyncClient(auth=(fake.TOKEN_ID, fake.TOKEN)) as client:
            response = await client.post(
                f"{sipgate.url}/sessions/sms",
                content=b'{"smsId":"s0"}',
                headers={"Content-Type": "text/plain"},
            )
        assert response.status_code == 415


class TestOutcomes:
    @pytest.mark.parametrize(
        ("status", "outcome"),
        [
            (401, Outcome.failed),
            (402, Outcome.failed),
            (403, Outcome.failed),
            (400, Outcome.failed),
            (429, Outcome.retry),
            (500, Outcome.retry),
            (503, Outcome.retry),
            (502, Outcome.unknown),
            (504, Outcome.unknown),
        ],
    )
    async def test_status(self, sipgate: FakeSipgate, status: int, outcome: Outcome) -> None:
        sipgate.answers.append(status)
        assert await send(sipgate.url) == outcome

    async def test_hanging_request_is_unknown(self, sipgate: FakeSipgate) -> None:
        sipgate.answers.append(HANG)
        assert await send(sipgate.url) == Outcome.unknown
        assert len(sipgate.requests) == 1

    async def test_nobody_listening_is_safe_to_retry(self) -> None:
        assert await send(f"http://127.0.0.1:{free_port()}/v2") == Outcome.retry


class TestSettings:
    def test_sipgate_needs_a_token(self) -> None:
        with pytest.raises(ValidationError, match="IGNIS_SIPGATE_TOKEN_ID and IGNIS_SIPGATE_TOKEN"):
            NotifierSettings(sms_provider="sipgate")

    def test_token_id_format(self) -> None:
        with pytest.raises(ValidationError, match="sipgate_token_id"):
            settings("http://x", sipgate_token_id="FQ1V12")

    def test_log_is_the_default(self) -> None:
        assert isinstance(make_provider(NotifierSettings()), LogProvider)
