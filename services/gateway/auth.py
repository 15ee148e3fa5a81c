"""Who may call the gateway: the tool secret for the agent's tools, an HMAC signature for webhooks."""

import hashlib
import hmac
import re
import time

# ElevenLabs' documented tolerance for the signature timestamp: how old a delivery may be (retries).
SIGNATURE_TOLERANCE_SECONDS = 30 * 60
# A timestamp from the future is only clock skew; more would let a captured signature live longer.
DEFAULT_FUTURE_SKEW_SECONDS = 60
# ASCII only: `str.isdigit()` accepts "²" (which `int()` refuses) and `compare_digest` refuses non-ASCII.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
# A real header has one `t` and a `v0` per secret being rotated; anything much longer is an attack.
MAX_SIGNATURE_PARTS = 8


class SignatureError(Exception):
    """Why a webhook signature was refused; safe to log (it never contains the body)."""


def secret_matches(given: str, expected: str) -> bool:
    """Constant-time, and an empty configured secret matches nothing (any input, also non-ASCII)."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def bearer_matches(authorization: str, expected: str) -> bool:
    """`Authorization: Bearer <token>` carries `expected` (the staff API's and the metrics' token)."""
    scheme, _, token = authorization.partition(" ")
    return scheme.lower() == "bearer" and secret_matches(token.strip(), expected)


def verify_elevenlabs_signature(
    header: str | None,
    body: bytes,
    secret: str,
    now: float | None = None,
    future_skew_seconds: float = DEFAULT_FUTURE_SKEW_SECONDS,
) -> None:
    """Check `ElevenLabs-Signature: t=<unix>,v0=<hex>`: HMAC-SHA256 of `"{t}.{raw body}"`.

    Several `v0` values are accepted (one per secret while a secret is rotated); any one must match.
    Anything malformed is a `SignatureError`, never another exception.
    """
    if not secret:
        raise SignatureError("webhook secret not configured")
    timestamp, candidates = signature_header(header, now, future_skew_seconds)
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("signature does not match")


def signature_header(
    header: str | None, now: float | None = None, future_skew_seconds: float = DEFAULT_FUTURE_SKEW_SECONDS
) -> tuple[str, list[str]]:
    """The timestamp and digests of a well-formed header within the time window; checked before the body
    is read, so a request that cannot be ElevenLabs' costs no upload."""
    if not header:
        raise SignatureError("signature header missing")
    parts = header.split(",", MAX_SIGNATURE_PARTS)
    if len(parts) > MAX_SIGNATURE_PARTS:
        raise SignatureError("signature header malformed")
    timestamp, candidates = None, []
    for part in parts:
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v0" and _DIGEST.fullmatch(value):
            candidates.append(value.lower())
    if timestamp is None or not _TIMESTAMP.fullmatch(timestamp) or not candidates:
        raise SignatureError("signature header malformed")
    age = (now if now is not None else time.time()) - int(timestamp)
    if age > SIGNATURE_TOLERANCE_SECONDS or -age > future_skew_seconds:
        raise SignatureError("signature timestamp outside the tolerance")
    return timestamp, candidates


def sign_elevenlabs(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header ElevenLabs would send for `body` (for `ignis demo-call` and the tests)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v0={digest}"
