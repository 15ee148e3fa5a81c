"""A local HTTP fake of sipgate's SMS endpoint, strict where the documentation is.

Built from sipgate's OpenAPI spec (`POST /v2/sessions/sms`, `SendWebSmsRequest`) and the error table of
sipgate-io/sipgateio-sendsms-python (see ../shared/reference/sipgate.md §1): HTTP Basic with a Personal
Access Token, `Content-Type: application/json` or 415, required non-blank `smsId`/`recipient`/`message`
or 400, an unknown SMS extension 403, success 204 without a body. A test can make the next answers
401/402/403/500 (or any status), let the request hang until the client gives up, or hold back the requests
whose body holds a given word or number (as a slow network would, so one sent later may arrive first).
"""

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes import serving

TOKEN_ID = "token-FQ1V12"
TOKEN = "e68ead46-a7db-46cd-8a1a-44aed1e4e372"
SMS_ID = "s0"
USER_ID = "w0"
HANG = 0  # as a status: do not answer


@dataclass
class Received:
    """One request as sipgate would have seen it, and what the fake answered."""

    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class FakeSipgate:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    # Statuses for the next requests, in order; when empty, a valid request gets 204.
    answers: list[int] = field(default_factory=list)
    # Seconds a request whose body holds the key (a word, a number) takes to arrive: one sent later may
    # come first.
    lags: dict[str, float] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    web_sms_booked: bool = True  # without the feature, the user has no SMS extension
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def sent(self) -> list[dict[str, Any]]:
        """The SMS sipgate accepted (and would have delivered)."""
        return [r.body for r in self.requests if 200 <= r.status < 300]

    def reset(self) -> None:
        self.web_sms_booked = True
        self.requests.clear()
        self.answers.clear()
        self.lags.clear()
        self.release.set()
        self.release = asyncio.Event()

    async def wait_for_requests(self, count: int, within_seconds: float = 10.0) -> list[Received]:
        """The requests so far, once there are `count` (or the time is up)."""
        deadline = time.monotonic() + within_seconds
        while len(self.requests) < count and (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)
            self.arrived.clear()
        return self.requests

    async def send_sms(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        if self.lags:
            text = json.dumps(body, ensure_ascii=False)
            await asyncio.sleep(max((s for key, s in self.lags.items() if key in text), default=0.0))
        status = self._judge(headers, body)
        if status == 204 and self.answers:
            status = self.answers.pop(0)
        self.requests.append(Received(headers, body, status))
        self.arrived.set()
        if status == HANG:
            await self.release.wait()  # until the test ends; the client has given up long before
            return Response(status_code=204)
        if status == 204:
            return Response(status_code=204)
        return JSONResponse({"errors": [{"status": status, "title": _TITLES.get(status, "error")}]}, status)

    async def userinfo(self, request: Request) -> Response:
        """`GET /v2/authorization/userinfo`: who the token belongs to (OpenAPI `UserinfoResponse`)."""
        if not _authorised(request):
            return JSONResponse({"errors": [{"status": 401, "title": _TITLES[401]}]}, 401)
        info = {"sub": USER_ID, "domain": "sipgate.de", "masterSipId": "0000000", "locale": "de_DE"}
        return JSONResponse(info)

    async def sms_extensions(self, request: Request) -> Response:
        """`GET /v2/{userId}/sms` (scope sms:read): the user's Web SMS extensions."""
        if not _authorised(request):
            return JSONResponse({"errors": [{"status": 401, "title": _TITLES[401]}]}, 401)
        if request.path_params["user_id"] != USER_ID:
            return JSONResponse({"errors": [{"status": 403, "title": "forbidden"}]}, 403)
        items = [{"id": SMS_ID, "alias": "SMS von Praxis", "callerId": "4915799912345"}]
        return JSONResponse({"items": items if self.web_sms_booked else []})

    def _judge(self, headers: dict[str, str], body: Any) -> int:
        if headers.get("authorization") != _BASIC:
            return 401
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return 415
        if not isinstance(body, dict) or set(body) - {"smsId", "recipient", "message", "sendAt"}:
            return 400
        for name in ("smsId", "recipient", "message"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                return 400
        if "sendAt" in body and not isinstance(body["sendAt"], int):
            return 400
        if body["smsId"] != SMS_ID:
            return 403
        return 204


_BASIC = "Basic " + base64.b64encode(f"{TOKEN_ID}:{TOKEN}".encode()).decode()


def _authorised(request: Request) -> bool:
    return request.headers.get("authorization") == _BASIC


_TITLES = {
    400: "bad request",
    401: "username and/or password are wrong",
    402: "insufficient account balance",
    403: "no permission to use specified SMS extension",
    415: "wrong or missing Content-Type header",
    500: "internal server error",
}


@contextlib.asynccontextmanager
async def running_fake_sipgate() -> AsyncIterator[FakeSipgate]:
    """The fake served by uvicorn on a free local port, in the test's event loop."""
    fake = FakeSipgate()
    app = Starlette(
        routes=[
            Route("/v2/sessions/sms", fake.send_sms, methods=["POST"]),
            Route("/v2/authorization/userinfo", fake.userinfo),
            Route("/v2/{user_id}/sms", fake.sms_extensions),
        ]
    )
    async with serving(app) as port:
        fake.url = f"http://127.0.0.1:{port}/v2"
        try:
            yield fake
        finally:
            fake.release.set()  # a hanging request ends, or the server would wait for it
