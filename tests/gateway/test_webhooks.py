"""The post-call webhook: signature checks, JetStream before 200, dedupe, large bodies, NATS down."""

import base64
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.js import JetStreamContext

from ignis.contracts import subjects
from ignis.gateway.auth import SignatureError, sign_elevenlabs, verify_elevenlabs_signature
from ignis.gateway.main import create_app
from ignis.gateway.settings import GatewaySettings
from ignis.kit.embedded import free_port, start_nats
from ignis.kit.payload import unpack
from tests.conftest import WEBHOOK_SECRET

FIXTURES = Path(__file__).parent.parent / "fixtures" / "elevenlabs"
URL = "/webhooks/elevenlabs/post-call"


def official(name: str, conversation_id: str | None = None) -> bytes:
    event = json.loads((FIXTURES / f"{name}.json").read_text())
    event["data"]["conversation_id"] = conversation_id or f"conv_{uuid.uuid4().hex}"
    return json.dumps(event).encode()


@pytest.fixture
async def webhooks(nats_url: str, gateway: httpx.AsyncClient) -> AsyncIterator[JetStreamContext]:
    """The webhook stream, emptied so a test sees only what it delivered."""
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    await js.purge_stream(subjects.WEBHOOKS_STREAM)
    yield js
    await connection.close()


async def stored(js: JetStreamContext, subject: str) -> list[Any]:
    info = await js.stream_info(subjects.WEBHOOKS_STREAM, subjects_filter=subject)
    return list((info.state.subjects or {}).items())


async def deliver(
    gateway: httpx.AsyncClient, body: bytes, signature: str | None, header: str = "ElevenLabs-Signature"
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[header] = signature
    return await gateway.post(URL, content=body, headers=headers)


class TestSignature:
    async def test_valid_signature_stores_the_raw_event(
        self, gateway: httpx.AsyncClient, webhooks: JetStreamContext
    ) -> None:
        body = official("post_call_transcription", "conv_valid")
        response = await deliver(gateway, body, sign_elevenlabs(body, WEBHOOK_SECRET))
        assert (response.status_code, response.json()["code"]) == (200, "stored")
        message = await webhooks.get_last_msg(
            subjects.WEBHOOKS_STREAM, subjects.elevenlabs_webhook("post_call_transcription")
        )
        assert message.data == body
        assert message.headers["Nats-Msg-Id"] == "post_call_transcription:conv_valid"

    @pytest.mark.parametrize(
        "signature",
        [
            None,
            "",
            sign_elevenlabs(b"other body", WEBHOOK_SECRET),
            f"t={int(time.time())},v0=" + "0" * 64,
            "v0=abc",
            "t=abc,v0=abc",
        ],
        ids=["missing", "empty", "signed-other-body", "wrong-digest", "no-timestamp", "bad-timestamp"],
    )
    async def test_refused(
        self, gateway: httpx.AsyncClient, webhooks: JetStreamContext, signature: str | None
    ) -> None:
        body = official("post_call_transcription")
        response = await deliver(gateway, body, signature)
        assert response.status_code == 401
        assert await stored(webhooks, subjects.WEBHOOKS_SUBJECTS) == []

    async def test_wrong_secret(self, gateway: httpx.AsyncClient) -> None:
        body = official("post_call_transcription")
        assert (await deliver(gateway, body, sign_elevenlabs(body, "another-secret"))).status_code == 401

    async def test_tampered_body(self, gateway: httpx.AsyncClient) -> None:
        body = official("post_call_transcription")
        signature = sign_elevenlabs(body, WEBHOOK_SECRET)
        assert (await deliver(gateway, body.replace(b"success", b"failure"), signature)).status_code == 401

    async def test_stale_timestamp(self, gateway: httpx.AsyncClient) -> None:
        body = official("post_call_transcription")
        stale = sign_elevenlabs(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 31 * 60)
        assert (await deliver(gateway, body, stale)).status_code == 401
        recent = sign_elevenlabs(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 29 * 60)
        assert (await deliver(gateway, body, recent)).status_code == 200

    async def test_future_timestamp_only_within_the_clock_skew(
        self, gateway: httpx.AsyncClient, gateway_settings: GatewaySettings
    ) -> None:
        body = official("post_call_transcription")
        skew = int(gateway_settings.signature_future_skew_seconds)
        ahead = sign_elevenlabs(body, WEBHOOK_SECRET, timestamp=int(time.time()) + skew + 5)
        assert (await deliver(gateway, body, ahead)).status_code == 401
        slightly = sign_elevenlabs(body, WEBHOOK_SECRET, timestamp=int(time.time()) + skew - 10)
        assert (await deliver(gateway, body, slightly)).status_code == 200

    async def test_header_name_in_lower_case(self, gateway: httpx.AsyncClient) -> None:
        body = official("post_call_transcription")
        response = await deliver(
            gateway, body, sign_elevenlabs(body, WEBHOOK_SECRET), header="elevenlabs-signature"
        )
        assert response.status_code == 200

    async def test_several_v0_values_one_of_them_right(self, gateway: httpx.AsyncClient) -> None:
        body = official("post_call_transcription")
        good = sign_elevenlabs(body, WEBHOOK_SECRET)
        stamp, digest = good.split(",")
        assert (await deliver(gateway, body, f"{stamp},v0={'f' * 64},{digest}")).status_code == 200


class TestDelivery:
    async def test_duplicate_delivery_is_stored_once(
        self, gateway: httpx.AsyncClient, webhooks: JetStreamContext
    ) -> None:
        body = official("post_call_transcription", "conv_twice")
        first = await deliver(gateway, body, sign_elevenlabs(body, WEBHOOK_SECRET))
        second = await deliver(gateway, body, sign_elevenlabs(body, WEBHOOK_SECRET))
        assert (first.json()["code"], second.json()["code"]) == ("stored", "duplicate")
        assert second.status_code == 200
        counts = dict(await stored(webhooks, subjects.elevenlabs_webhook("post_call_transcription")))
        assert counts == {subjects.elevenlabs_webhook("post_call_transcription"): 1}

    async def test_call_initiation_failure_is_stored(
        self, gateway: httpx.AsyncClient, webhooks: JetStreamContext
    ) -> None:
        body = official("call_initiation_failure")
        assert (await deliver(gateway, body, sign_elevenlabs(body, WEBHOOK_SECRET))).json()[
            "code"
        ] == "stored"
        assert await stored(webhooks, subjects.elevenlabs_webhook("call_initiation_failure"))

    async def test_audio_and_unknown_types_are_acknowledged_and_dropped(
        self, gateway: httpx.AsyncClient, webhooks: JetStreamContext
    ) -> None:
        for event_type in ("post_call_audio", "something_new"):
            body = json.dumps(
                {"type": event_type, "data": {"conversation_id": "c1", "full_audio": "AAAA"}}
            ).encode()
            response = await deliver(gateway, body, sign_elevenlabs(body, WEBHOOK_SECRET))
            assert (response.status_code, response.json()["code"]) == (200, "ignored")
        assert await stored(webhooks, subjects.WEBHOOKS_SUBJECTS) == []

    async def test_five_megabyte_transcript(
        self, gateway: httpx.AsyncClient, webhooks: JetStreamContext
    ) -> None:
        event = json.loads(official("post_call_transcription", "conv_long"))
        turn = {"role": "user", "message": "x" * 1000, "time_in_call_secs": 1}
        event["data"]["transcript"] = [turn] * 5000
        body = json.dumps(event).encode()
        assert len(body) > 5_000_000
        response = await deliver(gateway, body, sign_elevenlabs(body, WEBHOOK_SECRET))
        assert response.status_code == 200
        message = await webhooks.get_last_msg(
            subjects.WEBHOOKS_STREAM, subjects.elevenlabs_webhook("post_call_transcription")
        )
        assert unpack(message.data) == body  # compressed in the stream: it is above 1 MiB
        assert len(message.data) < len(body) / 10

    async def test_a_body_that_does_not_fit_even_compressed_is_413_not_503(
        self, gateway: httpx.AsyncClient, gateway_settings: GatewaySettings, webhooks: JetStreamContext
    ) -> None:
        """A 503 would make ElevenLabs retry forever; the edge says at once that it is too large."""
        event = json.loads(official("post_call_transcription", "conv_noise"))
        noise = base64.b64encode(os.urandom(8_700_000)).decode()  # 11.6 MB, compresses to over 8 MiB
        event["data"]["transcript"] = [{"role": "user", "message": noise}]
        body = json.dumps(event).encode()
        assert len(body) < gateway_settings.webhook_body_limit_bytes  # within the edge's limit
        response = await deliver(gateway, body, sign_elevenlabs(body, WEBHOOK_SECRET))
        assert (response.status_code, response.json()["code"]) == (413, "too_large")
        assert await stored(webhooks, subjects.elevenlabs_webhook("post_call_transcription")) == []

    @pytest.mark.parametrize(
        "body",
        [
            b"{not json",
            b"[]",
            b'{"type": 1}',
            b'{"type": "post_call_transcription"}',
            b'{"type": "post_call_transcription", "data": {}}',
            b"[" * 100_000 + b"]" * 100_000,  # deeper than json.loads can recurse
            b'{"type": "post_call_transcription", "data": {"conversation_id": "c", "x": '
            + b'{"a": ' * 5000
            + b"1"
            + b"}" * 5001
            + b"}",
            b"\xff\xfe{}",
        ],
        ids=[
            "not-json",
            "array",
            "type-not-str",
            "no-data",
            "no-conversation",
            "deep-array",
            "deep-object",
            "not-utf8",
        ],
    )
    async def test_unparseable_signed_body_is_400(self, gateway: httpx.AsyncClient, body: bytes) -> None:
        response = await deliver(gateway, body, sign_elevenlabs(body, WEBHOOK_SECRET))
        assert response.status_code == 400


class TestNatsDown:
    async def test_503_and_nothing_acknowledged(
        self, tmp_path: Path, gateway_settings: GatewaySettings
    ) -> None:
        url, server = start_nats(tmp_path / "nats", port=free_port())
        app = create_app(gateway_settings.model_copy(update={"nats_url": url}))
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                    server.terminate()
                    server.wait(10)
                    body = official("post_call_transcription")
                    response = await deliver(client, body, sign_elevenlabs(body, WEBHOOK_SECRET))
                    assert response.status_code == 503
        finally:
            if server.poll() is None:
                server.kill()


class TestVerifier:
    @pytest.mark.parametrize("ahead", [61, 600, 29 * 60, 10**11])
    def test_future_timestamps_beyond_the_skew_are_refused(self, ahead: int) -> None:
        body = b"{}"
        with pytest.raises(SignatureError, match="tolerance"):
            verify_elevenlabs_signature(
                sign_elevenlabs(body, WEBHOOK_SECRET, int(time.time()) + ahead), body, WEBHOOK_SECRET
            )

    @pytest.mark.parametrize(
        "header",
        [
            "t=\u00b2,v0=" + "0" * 64,  # "²".isdigit() is True, int("²") fails
            "t=\u0661\u0662,v0=" + "0" * 64,  # Arabic-Indic digits: isdecimal() and int() accept them
            f"t={int(time.time())},v0=\u00e9",  # non-ASCII would make compare_digest raise
            f"t={int(time.time())},v0=" + "g" * 64,
            f"t={int(time.time())},v0=" + "0" * 63,
            "t=" + "9" * 13 + ",v0=" + "0" * 64,
            f"t={int(time.time())}," * 20 + "v0=" + "0" * 64,
            f"t=-{int(time.time())},v0=" + "0" * 64,
            f"t= {int(time.time())},v0=" + "0" * 64,
        ],
        ids=[
            "superscript",
            "arabic-digits",
            "non-ascii-v0",
            "non-hex-v0",
            "short-v0",
            "13-digits",
            "many-parts",
            "negative",
            "space",
        ],
    )
    def test_malformed_headers_are_a_signature_error(self, header: str) -> None:
        with pytest.raises(SignatureError):
            verify_elevenlabs_signature(header, b"{}", WEBHOOK_SECRET)

    def test_unconfigured_secret_refuses_everything(self) -> None:
        with pytest.raises(SignatureError, match="not configured"):
            verify_elevenlabs_signature(sign_elevenlabs(b"{}", ""), b"{}", "")
