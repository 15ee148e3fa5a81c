"""An async FHIR R4 REST client: one pooled connection set per process, the server's auth, typed errors.

Resources are plain JSON dicts (the wire format): Ignis reads and writes a handful of fields of a few
resources, and a model library would reject the extensions and profiles a practice's server adds.

Bodies, search parameters and OperationOutcome diagnostics can carry patient data (a birth date is a search
parameter); none of them is ever logged or put into an exception's text. Logged: method, resource type,
status, milliseconds.
"""

import asyncio
import base64
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self
from urllib.parse import urlencode

import httpx

from ignis.contracts.base import ErrorCode
from ignis.fhir.settings import FhirAuth, FhirSettings
from ignis.kit.errors import ServiceError

logger = logging.getLogger("ignis.fhir")

Resource = dict[str, Any]
SearchParams = Mapping[str, str | Sequence[str]]

FHIR_JSON = "application/fhir+json"
# Searches follow `next` links up to this many resources: Ignis' searches are narrow (one birth date, one
# patient's tasks), so more means a query that went wrong, not a result to page through forever.
MAX_SEARCH_RESULTS = 1000


@dataclass(frozen=True)
class Issue:
    """One issue of an OperationOutcome. `diagnostics` may quote patient data: read it, never log it."""

    severity: str
    code: str
    diagnostics: str | None = None


def parse_outcome(body: object) -> list[Issue]:
    """The issues of an OperationOutcome body; anything else (an HTML error page, a proxy's JSON) has none."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return []
    issues = []
    for issue in body.get("issue") or []:
        if isinstance(issue, dict):
            text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
            issues.append(Issue(str(issue.get("severity", "")), str(issue.get("code", "")), text))
    return issues


class FhirError(ServiceError):
    """A FHIR interaction that failed. The text names the interaction, status and issue codes only, so a
    handler that lets it through answers with a typed error (`internal`, or `unavailable` below)."""

    def __init__(self, interaction: str, status: int | None = None, issues: Sequence[Issue] = ()) -> None:
        self.interaction = interaction
        self.status = status
        self.issues = list(issues)
        codes = ",".join(issue.code for issue in self.issues)
        super().__init__(f"FHIR {interaction}: {status or 'no response'}{f' ({codes})' if codes else ''}")


class FhirNotFound(FhirError):
    """404/410: no such resource (or it was deleted)."""


class FhirConflict(FhirError):
    """409: the server refused the write as conflicting (e.g. a duplicate it detected itself)."""


class FhirPreconditionFailed(FhirError):
    """412: an `If-Match` version was stale, or a conditional create/update matched more than one resource."""


class FhirUnauthorized(FhirError):
    """401/403: the credentials are wrong or lack the right; retrying will not help."""


class FhirRejected(FhirError):
    """Another 4xx (400, 422): the request itself is wrong for this server (a profile, a search parameter)."""


class FhirIncomplete(FhirError):
    """A search answered fewer matches than its `total` and no `next` link to the rest."""


class FhirUnavailable(FhirError):
    """5xx, 429, a timeout or no connection: the server is away for now; the caller may try again later."""

    code = ErrorCode.unavailable


_BY_STATUS: dict[int, type[FhirError]] = {
    401: FhirUnauthorized,
    403: FhirUnauthorized,
    404: FhirNotFound,
    409: FhirConflict,
    410: FhirNotFound,
    412: FhirPreconditionFailed,
}


def error_for(interaction: str, status: int, body: object) -> FhirError:
    kind = _BY_STATUS.get(status) or (FhirUnavailable if status >= 500 or status == 429 else FhirRejected)
    return kind(interaction, status, parse_outcome(body))


@dataclass(frozen=True)
class Created:
    """A (conditional) create: the resource as stored, and whether this call made it (False: it existed)."""

    resource: Resource
    created: bool


def _pairs(params: SearchParams) -> list[tuple[str, str]]:
    return [(key, v) for key, value in params.items() for v in ([value] if isinstance(value, str) else value)]


def version_of(resource: Resource) -> str:
    """The resource's version id, for `If-Match`."""
    return str(resource["meta"]["versionId"])


def reference(resource_type: str, resource_id: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id}"}


def token(system: str, code: str) -> str:
    """A token search value (`system|code`): `identifier=`, `category=`, and `If-None-Exist`."""
    return f"{system}|{code}"


@dataclass
class _Token:
    value: str
    expires_at: float


@dataclass
class _Credentials:
    """How each request is authorised; an OAuth2 token is fetched once and renewed before it runs out."""

    # Renew a token this long before the server says it expires (clock skew, a request in flight).
    EARLY: ClassVar[float] = 30.0

    kind: FhirAuth
    client_id: str | None = None
    secret: str | None = None
    token_url: str | None = None
    token: _Token | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def headers(self, http: httpx.AsyncClient) -> dict[str, str]:
        if self.kind == "basic":
            pair = base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
            return {"Authorization": f"Basic {pair}"}
        if self.kind == "bearer":
            return {"Authorization": f"Bearer {self.secret}"}
        if self.kind == "oauth2":
            return {"Authorization": f"Bearer {await self._token(http)}"}
        return {}

    def forget(self) -> None:
        self.token = None

    async def _token(self, http: httpx.AsyncClient) -> str:
        async with self.lock:
            if self.token is None or self.token.expires_at <= time.monotonic():
                self.token = await self._fetch(http)
            return self.token.value

    async def _fetch(self, http: httpx.AsyncClient) -> _Token:
        assert self.token_url  # FhirSettings refuses oauth2 without one
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id or "",
            "client_secret": self.secret,
        }
        try:
            response = await http.post(self.token_url, data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError:
            raise FhirUnavailable("token") from None
        if response.status_code >= 500:
            raise FhirUnavailable("token", response.status_code)
        if response.status_code != 200:
            raise FhirUnauthorized("token", response.status_code)
        body = response.json()
        lifetime = float(body.get("expires_in") or 300)
        return _Token(str(body["access_token"]), time.monotonic() + max(lifetime - self.EARLY, 1.0))


class FhirClient:
    """One per process (it holds the connection pool); build it in the service's lifespan, close it there."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: FhirAuth = "none",
        client_id: str | None = None,
        client_secret: str | None = None,
        token_url: str | None = None,
        timeout_seconds: float = 3.0,
        max_connections: int = 20,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self._credentials = _Credentials(auth, client_id, client_secret, token_url)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"Accept": FHIR_JSON},
        )

    @classmethod
    def from_settings(cls, settings: FhirSettings) -> Self:
        if not settings.fhir_url:
            raise ValueError("IGNIS_FHIR_URL is not set")
        secret = settings.fhir_client_secret.get_secret_value() if settings.fhir_client_secret else None
        return cls(
            settings.fhir_url,
            auth=settings.fhir_auth,
            client_id=settings.fhir_client_id,
            client_secret=secret,
            token_url=settings.fhir_token_url,
            timeout_seconds=settings.fhir_timeout_seconds,
            max_connections=settings.fhir_max_connections,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def read(self, resource_type: str, resource_id: str) -> Resource:
        return await self._send("read", resource_type, "GET", f"{resource_type}/{resource_id}")

    async def search(self, resource_type: str, params: SearchParams, *, count: int = 100) -> list[Resource]:
        """Every match (following `next` links), resources of `resource_type` only (no `_include`s)."""
        query = [*_pairs(params), ("_count", str(count))]
        bundle = await self._send("search", resource_type, "GET", resource_type, params=query)
        found: list[Resource] = []
        while True:
            for entry in bundle.get("entry") or []:
                resource = entry.get("resource") or {}
                if resource.get("resourceType") == resource_type:
                    found.append(resource)
            following = next(
                (link["url"] for link in bundle.get("link") or [] if link.get("relation") == "next"), None
            )
            if following is None:
                total = bundle.get("total")
                if isinstance(total, int) and total > len(found):
                    raise FhirIncomplete(f"search {resource_type}", 200)
                return found
            if len(found) >= MAX_SEARCH_RESULTS:
                raise FhirIncomplete(f"search {resource_type}", 200)
            bundle = await self._send("search", resource_type, "GET", following)

    async def page(self, resource_type: str, params: SearchParams, *, count: int) -> list[Resource]:
        """One page of a search (at most `count`), for callers that page by a watermark of their own."""
        query = [*_pairs(params), ("_count", str(count))]
        bundle = await self._send("search", resource_type, "GET", resource_type, params=query)
        entries = bundle.get("entry") or []
        return [
            e["resource"] for e in entries if (e.get("resource") or {}).get("resourceType") == resource_type
        ]

    async def count(self, resource_type: str, params: SearchParams) -> int:
        """How many match (`_summary=count`: the server counts, nothing is sent back)."""
        query = [*_pairs(params), ("_summary", "count")]
        bundle = await self._send("search", resource_type, "GET", resource_type, params=query)
        return int(bundle.get("total") or 0)

    async def create(self, resource: Resource, *, if_none_exist: SearchParams | None = None) -> Created:
        """Create; with `if_none_exist` (a search, e.g. {"identifier": "system|value"}) the server returns the
        one match instead of creating a second, which makes a retried create harmless."""
        kind = resource["resourceType"]
        headers = {"If-None-Exist": urlencode(_pairs(if_none_exist))} if if_none_exist else {}
        response = await self._request("create", kind, "POST", kind, json=resource, headers=headers)
        stored = response.json() if response.content else {}
        if stored.get("resourceType") != kind:
            # A server that answers a create with no body (Prefer ignored): read what Location names.
            location = response.headers.get("location", "")
            stored = await self.read(kind, location.split(f"{kind}/", 1)[1].split("/", 1)[0])
        return Created(stored, response.status_code == 201)

    async def update(self, resource: Resource, *, if_match: str | None = None) -> Resource:
        """Replace the resource; with `if_match` (a version id) only if nobody changed it since it was read
        (else FhirPreconditionFailed)."""
        kind = resource["resourceType"]
        headers = {"If-Match": f'W/"{if_match}"'} if if_match else {}
        return await self._send(
            "update", kind, "PUT", f"{kind}/{resource['id']}", json=resource, headers=headers
        )

    async def upsert(self, resource: Resource, match: SearchParams) -> Resource:
        """Conditional update: replace the one resource `match` finds (e.g. by an identifier Ignis assigned),
        or create it when there is none. Writing the same state twice is harmless."""
        kind = resource["resourceType"]
        query = tuple(_pairs(match))
        return await self._send("upsert", kind, "PUT", kind, json=resource, params=query)

    async def transaction(self, entries: Sequence[Resource]) -> list[Resource]:
        """A transaction bundle: all entries or none. Returns the response entries, in order."""
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}
        answer = await self._send("transaction", "Bundle", "POST", "", json=bundle)
        return list(answer.get("entry") or [])

    async def _send(
        self, interaction: str, resource_type: str, method: str, url: str, **kwargs: Any
    ) -> Resource:
        response = await self._request(interaction, resource_type, method, url, **kwargs)
        body: Resource = response.json()
        return body

    async def _request(
        self,
        interaction: str,
        resource_type: str,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: object = None,
        params: Sequence[tuple[str, str]] | None = None,
    ) -> httpx.Response:
        name = f"{interaction} {resource_type}"
        content_headers = (
            {"Content-Type": FHIR_JSON, "Prefer": "return=representation"} if json is not None else {}
        )
        for attempt in (1, 2):
            started = time.monotonic()
            try:
                all_headers = {
                    **content_headers,
                    **(headers or {}),
                    **await self._credentials.headers(self._http),
                }
                query = tuple(params) if params else None
                response = await self._http.request(method, url, headers=all_headers, json=json, params=query)
            except httpx.TimeoutException:
                logger.warning("FHIR timed out", extra={"interaction": name})
                raise FhirUnavailable(name) from None  # httpx' text names the URL, which may carry a search
            except httpx.HTTPError:
                logger.warning("FHIR unreachable", extra={"interaction": name})
                raise FhirUnavailable(name) from None
            elapsed_ms = round((time.monotonic() - started) * 1000, 1)
            logger.debug(
                "FHIR", extra={"interaction": name, "status": response.status_code, "ms": elapsed_ms}
            )
            if response.status_code == 401 and self._credentials.kind == "oauth2" and attempt == 1:
                self._credentials.forget()  # the token was revoked or expired early: fetch one more
                continue
            if response.is_success:
                return response
            try:
                body = response.json()
            except ValueError:
                body = None
            error = error_for(name, response.status_code, body)
            logger.info("FHIR refused", extra={"interaction": name, "status": response.status_code})
            raise error
        raise AssertionError("unreachable")
