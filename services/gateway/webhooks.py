"""ElevenLabs' post-call webhook: verify, then hand the raw event to JetStream and only then say 200.

ElevenLabs retries on 5xx (when retries are enabled), so an event is acknowledged only once JetStream
has stored it; `Nats-Msg-Id` = `<type>:<conversation_id>` makes a redelivered event a no-op.
"""

import json
import logging
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from nats.errors import Error as NatsError

from ignis.contracts import subjects
from ignis.gateway.auth import SignatureError, signature_header, verify_elevenlabs_signature
from ignis.kit.payload import pack

logger = logging.getLogger("ignis.gateway.webhooks")
router = APIRouter(prefix="/webhooks/elevenlabs", tags=["webhooks"])

# Stored and processed; `post_call_audio` (base64 MP3 of the whole call) is acknowledged and dropped.
STORED_TYPES = {"post_call_transcription", "call_initiation_failure"}
PUBLISH_TIMEOUT_SECONDS = 5.0
POST_CALL_PATH = f"{router.prefix}/post-call"
# ElevenLabs' ids are like `conv_01jx…`; the id goes into a NATS header (Nats-Msg-Id), so nothing that could
# end or add a header line (CR, LF, NUL) gets through.
_CONVERSATION_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


def _answer(status: int, code: str) -> JSONResponse:
    return JSONResponse({"ok": 200 <= status < 300, "code": code}, status_code=status)


@router.post("/post-call")
async def post_call(request: Request) -> JSONResponse:
    state = request.app.state
    try:
        # The header first: without a plausible signature the body (up to 16 MiB) is not even read.
        signature_header(
            request.headers.get("elevenlabs-signature"), None, state.settings.signature_future_skew_seconds
        )
    except SignatureError as exc:
        logger.warning("webhook refused", extra={"reason": str(exc)})
        return _answer(401, "invalid_signature")
    body = await request.body()
    try:
        verify_elevenlabs_signature(
            request.headers.get("elevenlabs-signature"),
            body,
            state.settings.elevenlabs_webhook_secret.get_secret_value(),
            future_skew_seconds=state.settings.signature_future_skew_seconds,
        )
    except SignatureError as exc:
        logger.warning("webhook refused", extra={"reason": str(exc)})
        return _answer(401, "invalid_signature")
    event = _parse(body)
    if event is None:
        return _answer(400, "invalid_request")
    event_type, conversation_id = event
    if event_type not in STORED_TYPES:
        logger.info("webhook ignored", extra={"type": event_type, "conversation_id": conversation_id})
        return _answer(200, "ignored")
    stored = pack(body)
    if len(stored) > state.jetstream_max_payload:
        # Even compressed it does not fit one message: a 5xx would only make ElevenLabs retry in vain.
        logger.error(
            "webhook too large to store", extra={"conversation_id": conversation_id, "size": len(body)}
        )
        return _answer(413, "too_large")
    try:
        ack = await state.jetstream.publish(
            subjects.elevenlabs_webhook(event_type),
            stored,
            stream=subjects.WEBHOOKS_STREAM,
            timeout=PUBLISH_TIMEOUT_SECONDS,
            headers={"Nats-Msg-Id": f"{event_type}:{conversation_id}"},
        )
    except (TimeoutError, NatsError, ConnectionError) as exc:
        logger.error(
            "webhook not stored", extra={"conversation_id": conversation_id, "reason": type(exc).__name__}
        )
        return _answer(503, "unavailable")
    logger.info(
        "webhook stored",
        extra={"type": event_type, "conversation_id": conversation_id, "duplicate": bool(ack.duplicate)},
    )
    return _answer(200, "duplicate" if ack.duplicate else "stored")


def _parse(body: bytes) -> tuple[str, str] | None:
    """`(type, conversation_id)` of an event, or None when it is no such event (never logs the body)."""
    try:
        event: Any = json.loads(body, parse_constant=_refuse)
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError), or nested deeply
        return None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return None
    data = event.get("data")
    conversation_id = data.get("conversation_id") if isinstance(data, dict) else None
    if not isinstance(conversation_id, str) or not _CONVERSATION_ID.fullmatch(conversation_id):
        return None
    return event["type"], conversation_id


def _refuse(constant: str) -> None:
    """NaN and Infinity are no JSON (Postgres' jsonb refuses them): such an event is malformed."""
    raise ValueError(constant)
