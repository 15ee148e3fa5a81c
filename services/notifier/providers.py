"""SMS providers behind one small interface: `send` a text to a number, learn what became of it.

There is no idempotency key at sipgate and no message id: a request that may have reached it is never
repeated automatically. So each outcome says whether a retry is safe (the SMS certainly did not go out).
"""

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import httpx

from ignis.notifier.settings import NotifierSettings

logger = logging.getLogger("ignis.notifier.sms")


class Outcome(StrEnum):
    sent = "sent"
    failed = "failed"  # refused; sending again would be refused again until someone acts
    retry = "retry"  # certainly not sent, and worth trying again later
    unknown = "unknown"  # the request may have been delivered; never repeated automatically


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    reason: str | None = None
    http_status: int | None = None
    retry_after_seconds: float | None = None


class SmsProvider(Protocol):
    name: str

    async def send(self, recipient: str, text: str, message_id: str) -> Result:
        """Send `text` to `recipient` (E.164); `message_id` is ours, for the log only."""
        ...

    async def aclose(self) -> None: ...


class LogProvider:
    """The embedded default: nothing leaves the machine; the text is kept in `notifier.message` and logged
    (never the number)."""

    name = "log"

    async def send(self, recipient: str, text: str, message_id: str) -> Result:
        logger.info("SMS not sent (provider log)", extra={"message_id": message_id, "text": text})
        return Result(Outcome.sent, "logged, not sent (IGNIS_SMS_PROVIDER=log)")

    async def aclose(self) -> None:
        return None


# sipgate's documented answers (sipgateio-sendsms-python README, "HTTP Errors"), as operator advice.
_REFUSED = {
    400: "sipgate refused the request as invalid (400)",
    401: "sipgate refused the token (401): check IGNIS_SIPGATE_TOKEN_ID and IGNIS_SIPGATE_TOKEN",
    402: "sipgate balance insufficient (402): top up the sipgate account",
    403: "sipgate does not allow this SMS extension (403): book Web SMS, check IGNIS_SIPGATE_SMS_ID "
    "and the token's scope sessions:sms:write",
    404: "wrong sipgate endpoint (404): check IGNIS_SIPGATE_API_URL",
    405: "wrong request method for sipgate (405)",
    415: "sipgate refused the content type (415)",
}
# sipgate answered that it failed: nothing was sent, a later attempt may work.
_TRY_AGAIN = {429, 500, 503}


class SipgateProvider:
    """`POST {api}/sessions/sms` with a Personal Access Token (HTTP Basic `tokenId:token`)."""

    name = "sipgate"

    def __init__(self, settings: NotifierSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not (settings.sipgate_token_id and settings.sipgate_token):
            raise ValueError("the sipgate provider needs IGNIS_SIPGATE_TOKEN_ID and IGNIS_SIPGATE_TOKEN")
        self.sms_id = settings.sipgate_sms_id
        self.client = httpx.AsyncClient(
            base_url=settings.sipgate_api_url,
            auth=httpx.BasicAuth(settings.sipgate_token_id, settings.sipgate_token.get_secret_value()),
            headers={"Accept": "application/json"},
            timeout=httpx.Timeout(
                settings.sms_timeout_seconds, connect=min(5.0, settings.sms_timeout_seconds)
            ),
            transport=transport,
        )

    async def send(self, recipient: str, text: str, message_id: str) -> Result:
        body = {"smsId": self.sms_id, "recipient": recipient, "message": text}
        try:
            response = await self.client.post("/sessions/sms", json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return Result(Outcome.retry, f"could not reach sipgate ({type(exc).__name__})")
        except httpx.HTTPError as exc:  # the request (or part of it) left: sipgate may have sent it
            return Result(Outcome.unknown, f"no answer from sipgate ({type(exc).__name__})")
        status = response.status_code
        if response.is_success:
            return Result(Outcome.sent, http_status=status)
        if status in _TRY_AGAIN:
            return Result(
                Outcome.retry,
                f"sipgate answered {status}, nothing sent",
                status,
                _retry_after(response.headers.get("retry-after")),
            )
        if status in _REFUSED or 400 <= status < 500:
            return Result(Outcome.failed, _REFUSED.get(status, f"sipgate refused the SMS ({status})"), status)
        # 502, 504 and the like come from a proxy in between: sipgate itself may have sent the SMS.
        return Result(Outcome.unknown, f"sipgate answered {status}; whether it sent is unknown", status)

    async def aclose(self) -> None:
        await self.client.aclose()


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: use our own backoff


def make_provider(settings: NotifierSettings) -> SmsProvider:
    if settings.sms_provider == "sipgate":
        return SipgateProvider(settings)
    return LogProvider()
