"""Who may call the gateway: the tool secret for the agent's tools, an HMAC signature for webhooks."""

import hashlib
import hmac
import time

# ElevenLabs' documented tolerance for the signature timestamp.
SIGNATURE_TOLERANCE_SECONDS = 30 * 60


class SignatureError(Exception):
    """Why a webhook signature was refused; safe to log (it never contains the body)."""


def secret_matches(given: str, expected: str) -> bool:
    """Constant-time, and an empty configured secret matches nothing."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def verify_elevenlabs_signature(
    header: str | None, body: bytes, secret: str, now: float | None = None
) -> None:
    """Check `ElevenLabs-Signature: t=<unix>,v0=<hex>`: HMAC-SHA256 of `"{t}.{raw body}"`.

    Several `v0` values are accepted (one per secret while a secret is rotated); any one must match.
    """
    if not secret:
        raise SignatureError("webhook secret not configured")
    if not header:
        raise SignatureError("signature header missing")
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v0" and value:
            candidates.append(value)
    if timestamp is None or not timestamp.isdigit() or not candidates:
        raise SignatureError("signature header malformed")
    if abs((now if now is not None else time.time()) - int(timestamp)) > SIGNATURE_TOLERANCE_SECONDS:
        raise SignatureError("signature timestamp outside the tolerance")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate.lower()) for candidate in candidates):
        raise SignatureError("signature does not match")


def sign_elevenlabs(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header ElevenLabs would send for `body` (for `ignis demo-call` and the tests)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v0={digest}"
