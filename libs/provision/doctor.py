"""`ignis doctor`: the troubleshooting guide as checks. Each says pass or fail, what it saw, and the fix.

In the order a call travels: sipgate hands it to ElevenLabs' SIP edge (DNS, TCP 5060, TLS 5061, a SIP
OPTIONS answered, the number imported in exactly the format the INVITE carries), the agent answers and
calls this gateway (agent assigned to the number, tools and webhooks pointing here with the right
secret, the gateway reachable over HTTPS with a valid certificate, its services ready), and afterwards
the notifier texts the patient (sipgate token valid, Web SMS booked).
"""

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from elevenlabs import ElevenLabs
from elevenlabs.core.api_error import ApiError

from ignis.contracts.tools import TOOL_BODIES
from ignis.kit.settings import stored_secret
from ignis.practice.config import Practice
from ignis.provision import bridge_status, probes
from ignis.provision.agent import (
    INITIATION_PATH,
    POST_CALL_PATH,
    TOOL_SECRET_HEADER,
    agent_name,
    tool_path,
)
from ignis.provision.settings import ProvisionSettings
from ignis.provision.workspace import (
    POST_CALL_WEBHOOK_NAME,
    RETRIES_FOR,
    connect,
    e164,
    pages,
    plain,
    tool_secret_name,
)

Outcome = Literal["pass", "fail", "skip"]
DEFAULT_API_URL = "https://api.elevenlabs.io"  # the SDK's default environment
TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    detail: str
    fix: str = ""

    def __str__(self) -> str:
        mark = {"pass": "✓", "fail": "✗", "skip": "–"}[self.outcome]
        text = f"{mark} {self.name}: {self.detail}"
        return f"{text}\n    fix: {self.fix}" if self.outcome == "fail" and self.fix else text


def _check(name: str, ok: bool, detail: str, fix: str) -> Check:
    return Check(name, "pass" if ok else "fail", detail, "" if ok else fix)


class Doctor:
    def __init__(self, settings: ProvisionSettings, practice: Practice) -> None:
        self.settings = settings
        self.practice = practice
        self.public_url = (settings.public_url or "").rstrip("/")
        self.number = settings.sip_number or e164(practice.phone)

    async def run(self) -> list[Check]:
        checks = [self.region(), *await self.bridge()]
        checks += await self.sip_edge()
        checks += await asyncio.to_thread(self.workspace)
        checks += await self.gateway()
        checks += await self.sipgate()
        return checks

    def region(self) -> Check:
        """EU data residency holds only when the API (agent, transcripts) and the SIP edge (the call's audio)
        are both in the EU region: a mix sends part of the data elsewhere."""
        api = urlsplit(self.settings.elevenlabs_api_url or DEFAULT_API_URL).hostname or ""
        sip = self.settings.elevenlabs_sip_host
        api_region, sip_region = _region(api), _region(sip)
        if api_region is None or sip_region is None:
            return Check("ElevenLabs region", "skip", f"not ElevenLabs' own hosts ({api}, {sip})")
        return _check(
            "ElevenLabs region",
            api_region == sip_region,
            f"API {api} ({api_region}), SIP {sip} ({sip_region})",
            "point IGNIS_ELEVENLABS_API_URL and IGNIS_ELEVENLABS_SIP_HOST at the same region (EU data "
            "residency: https://api.eu.residency.elevenlabs.io and the EU SIP host of your contract)",
        )

    # sipgate → the SIP bridge (where one is needed) → ElevenLabs

    async def bridge(self) -> list[Check]:
        folder = self.settings.sip_bridge_dir
        if folder is None:
            return []
        socket = f"unix:{(folder / 'run' / 'kamailio_ctl').resolve()}"
        try:
            state = await asyncio.to_thread(bridge_status.query, socket)
        except RuntimeError as exc:
            fix = "start it: deploy/sip-bridge/README.md"
            registration = Check("SIP bridge", "fail", f"not reachable ({exc})", fix)
        else:
            registration = _check(
                "SIP bridge registered at sipgate",
                state.registered,
                state.detail,
                "check IGNIS_SIP_REGISTRAR_USERNAME/PASSWORD (sipgate trunking) and the bridge's log",
            )
        return [registration, self.bridge_media(folder)]

    def bridge_media(self, folder: Path) -> Check:
        """sipgate documents no SRTP: only a bridge that converts (rtpengine.conf rendered) serves a number
        imported with media encryption required; a converting bridge offers SRTP, which disabled refuses."""
        encryption = self.settings.sip_media_encryption
        name = f"SIP media encryption {encryption} fits the bridge"
        if (folder / "rtpengine.conf").exists():
            detail = "bridge converts sipgate's plain RTP to SRTP (SDES) towards ElevenLabs (rtpengine)"
            fix = "set IGNIS_SIP_MEDIA_ENCRYPTION=required (or allowed) and run ignis provision again"
            return _check(name, encryption != "disabled", detail, fix)
        detail = "bridge relays media end to end: sipgate's trunk offers plain RTP as far as documented"
        fix = (
            "set IGNIS_SIP_MEDIA_ENCRYPTION=allowed and run ignis provision again, or "
            "IGNIS_SIP_BRIDGE_MEDIA=srtp on the bridge (rtpengine; deploy/sip-bridge/README.md)"
        )
        return _check(name, encryption != "required", detail, fix)

    async def sip_edge(self) -> list[Check]:
        host = self.settings.elevenlabs_sip_host
        tcp, tls = self.settings.elevenlabs_sip_tcp_port, self.settings.elevenlabs_sip_tls_port
        dns, reach_tcp, reach_tls, options = await asyncio.gather(
            probes.resolve(host, TIMEOUT),
            probes.tcp_connect(host, tcp, TIMEOUT),
            probes.tls_handshake(host, tls, TIMEOUT),
            probes.sip_options(host, tls, "tls", TIMEOUT, request_uri=f"sip:{self.number}@{host}"),
        )
        firewall = "allow outgoing TCP 5060 and 5061 from this network (and from the SIP bridge, if one runs)"
        return [
            _check(f"DNS of {host}", dns.ok, dns.detail, "check the DNS resolver of this machine"),
            _check(f"TCP {host}:{tcp}", reach_tcp.ok, reach_tcp.detail, firewall),
            _check(
                f"TLS {host}:{tls}", reach_tls.ok, reach_tls.detail, firewall + "; no TLS-intercepting proxy"
            ),
            _check(
                f"SIP OPTIONS to sip:{self.number}@{host} over TLS",
                options.ok,
                options.detail,
                "ElevenLabs' SIP edge does not answer: check the firewall, then status.elevenlabs.io",
            ),
        ]

    # ElevenLabs workspace

    def workspace(self) -> list[Check]:
        key = self.settings.elevenlabs_api_key
        if not key or not key.get_secret_value():
            return [
                Check(
                    "ElevenLabs API key",
                    "fail",
                    "IGNIS_ELEVENLABS_API_KEY is not set",
                    "set it, then run `ignis provision`",
                )
            ]
        try:
            with connect(self.settings) as client:
                return self._workspace(client)
        except ApiError as exc:
            if exc.status_code == 401:
                return [
                    Check("ElevenLabs API key", "fail", "refused (401)", "check IGNIS_ELEVENLABS_API_KEY")
                ]
            return [
                Check("ElevenLabs API", "fail", f"answered {exc.status_code}", "run the doctor again later")
            ]
        except (httpx.HTTPError, OSError) as exc:
            return [
                Check(
                    "ElevenLabs API",
                    "fail",
                    f"not reachable ({type(exc).__name__})",
                    "check the internet connection",
                )
            ]

    def _workspace(self, client: ElevenLabs) -> list[Check]:
        provision = "run `ignis provision`"
        agents = list(pages(client.conversational_ai.agents.list, "agents"))
        name = agent_name(self.practice)
        agent = next((a for a in agents if a.get("name") == name), None)
        checks = [Check("ElevenLabs API key", "pass", "accepted")]
        checks.append(
            _check(f'agent "{name}"', agent is not None, "exists" if agent else "missing", provision)
        )
        numbers = plain(client.conversational_ai.phone_numbers.list())
        exact = next((n for n in numbers if n.get("phone_number") == self.number), None)
        same_digits = [
            n.get("phone_number") for n in numbers if _digits(n.get("phone_number")) == _digits(self.number)
        ]
        to = f"sip:{self.number}@{self.settings.elevenlabs_sip_host}"
        if exact is not None:
            checks.append(
                Check(
                    f"number {self.number} in ElevenLabs",
                    "pass",
                    f"imported as the INVITE's To: {to}",
                )
            )
        elif same_digits:
            checks.append(Check(
                f"number {self.number} in ElevenLabs",
                "fail",
                f"imported as {same_digits[0]!r}, but calls arrive for {self.number!r} (To {to})",
                "the formats must match exactly (leading + included): set IGNIS_SIP_NUMBER to what sipgate "
                "(or the bridge) sends, then run `ignis provision`",
            ))  # fmt: skip
        else:
            checks.append(Check(f"number {self.number} in ElevenLabs", "fail", "not imported", provision))
        if exact is not None:
            assigned = (exact.get("assigned_agent") or {}).get("agent_id")
            ok = agent is not None and assigned == agent.get("agent_id")
            checks.append(
                _check(
                    "agent assigned to the number",
                    ok,
                    "yes" if ok else f"assigned: {assigned or 'none'}",
                    provision,
                )
            )
            checks += self._trunk_credentials(exact)
        checks += self._tools(client)
        checks += self._webhooks(client)
        return checks

    def _trunk_credentials(self, number: dict[str, Any]) -> list[Check]:
        """Digest credentials on both sides of the trunk (the API shows whether they are set, never them)."""
        inbound = number.get("inbound_trunk") or {}
        outbound = number.get("outbound_trunk") or {}
        return [
            _check(
                "inbound SIP digest authentication",
                bool(inbound.get("has_auth_credentials")),
                f"user {inbound.get('username')}" if inbound.get("has_auth_credentials") else "off",
                "without it anyone who knows the SIP URI reaches the agent: set IGNIS_SIP_USERNAME and "
                "IGNIS_SIP_PASSWORD (the same in sipgate or the SIP bridge), then run `ignis provision`",
            ),
            _check(
                "outbound trunk credentials (sipgate)",
                bool(outbound.get("has_auth_credentials")),
                _outbound(outbound) if outbound.get("has_auth_credentials") else "none",
                "transfers that are no SIP REFER fail at sipgate: set IGNIS_SIP_REGISTRAR_USERNAME and "
                "IGNIS_SIP_REGISTRAR_PASSWORD (sipgate trunking), then run `ignis provision`",
            ),
        ]

    def _tools(self, client: ElevenLabs) -> list[Check]:
        secrets = plain(client.conversational_ai.secrets.list().secrets)
        ours = tool_secret_name(self.settings.tool_secret.get_secret_value())
        secret_ids = {s["secret_id"] for s in secrets if s.get("name") == ours}
        tools: dict[str, dict[str, Any]] = {}
        for tool in pages(client.conversational_ai.tools.list, "tools"):
            config = tool.get("tool_config", {})
            tools.setdefault(config.get("name", ""), config)
        wrong = []
        for name in TOOL_BODIES:
            schema = tools.get(name, {}).get("api_schema", {})
            header = (schema.get("request_headers") or {}).get(TOOL_SECRET_HEADER) or {}
            if name not in tools:
                wrong.append(f"{name}: missing")
            elif schema.get("url") != self.public_url + tool_path(name):
                wrong.append(f"{name}: calls {schema.get('url')}")
            elif str(schema.get("method", "GET")).upper() != "POST":
                wrong.append(f"{name}: method {schema.get('method', 'GET')}")
            elif not isinstance(header, dict) or header.get("secret_id") not in secret_ids:
                wrong.append(f"{name}: not the current tool secret")
        return [
            _check(
                f"tools point at {self.public_url or '(no public URL)'} with the tool secret",
                not wrong,
                f"all {len(TOOL_BODIES)}"
                if not wrong
                else "; ".join(wrong[:3]) + (" …" if len(wrong) > 3 else ""),
                "run `ignis provision` (with the same IGNIS_TOOL_SECRET and --public-url as this gateway)",
            )
        ]

    def _webhooks(self, client: ElevenLabs) -> list[Check]:
        settings = plain(client.conversational_ai.settings.get())
        post_call_id = (settings.get("webhooks") or {}).get("post_call_webhook_id")
        webhooks = plain(client.webhooks.list().webhooks)
        current = next((w for w in webhooks if w.get("webhook_id") == post_call_id), None)
        url = self.public_url + POST_CALL_PATH
        if current is None:
            post_call = Check(
                "post-call webhook", "fail", "not set for the workspace", "run `ignis provision`"
            )
        else:
            ok = current.get("webhook_url") == url and current.get("name") == POST_CALL_WEBHOOK_NAME
            post_call = _check(
                "post-call webhook", ok, f"sends to {current.get('webhook_url')}", "run `ignis provision`"
            )
        init = settings.get("conversation_initiation_client_data_webhook") or {}
        init_url = self.public_url + INITIATION_PATH
        init_check = _check(
            "conversation-init webhook",
            init.get("url") == init_url,
            f"calls {init.get('url') or 'nothing'}",
            "run `ignis provision`",
        )
        return [post_call, *self._delivery(current), init_check]

    def _delivery(self, hook: dict[str, Any] | None) -> list[Check]:
        """Whether ElevenLabs still sends to the webhook, and retries what fails: a webhook that keeps failing
        is auto-disabled, and without retries one failed delivery loses the transcript (until reconciled)."""
        if hook is None:
            return []
        failure = hook.get("most_recent_failure_error_code")
        last = (
            f"; last failure: {failure} at {_when(hook.get('most_recent_failure_timestamp'))}"
            if failure
            else ""
        )
        state = (
            "auto-disabled after repeated failures"
            if hook.get("is_auto_disabled")
            else "disabled"
            if hook.get("is_disabled")
            else "enabled"
        )
        retries = stored_secret(self.settings.home, RETRIES_FOR) == hook.get("webhook_id")
        return [
            _check(
                "post-call webhook delivering",
                state == "enabled",
                state + last,
                "fix the cause of the failures (the gateway's log, the other checks), then run `ignis "
                "provision` (it enables the webhook again); `ignis reconcile-calls` fetches what was lost",
            ),
            _check(
                "post-call webhook retries",
                retries,
                "turned on by `ignis provision`" if retries else "not turned on for this webhook",
                "run `ignis provision` (ElevenLabs retries only when retry_enabled is set; the API does not "
                "show the setting, so IGNIS_HOME remembers it)",
            ),
        ]

    # ElevenLabs → gateway

    async def gateway(self) -> list[Check]:
        if not self.public_url:
            public = Check(
                "gateway over HTTPS", "fail", "no public URL", "pass --public-url or set IGNIS_PUBLIC_URL"
            )
        else:
            seen = await probes.https_health(self.public_url, TIMEOUT)
            public = _check(
                f"gateway {self.public_url}/healthz over HTTPS",
                seen.ok,
                seen.detail,
                "make the gateway reachable from the internet over HTTPS with a valid certificate "
                "(e.g. `docker compose --profile https up`)",
            )
        local = f"http://{self.settings.gateway_host}:{self.settings.gateway_port}/readyz"
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                response = await client.get(local)
            ready = _check(
                "local services ready",
                response.status_code == 200,
                f"{local} answered {response.status_code}",
                "see which service is down in the /readyz answer and the log of `ignis up`",
            )
        except httpx.HTTPError as exc:
            ready = Check(
                "local services ready",
                "fail",
                f"{local}: {type(exc).__name__}",
                "start Ignis (`make run`, or the containers)",
            )
        return [public, ready]  # fmt: skip

    # Notifier → sipgate

    async def sipgate(self) -> list[Check]:
        settings = self.settings
        if settings.sms_provider != "sipgate":
            return [Check("sipgate SMS", "skip", "IGNIS_SMS_PROVIDER=log: SMS are only logged")]
        token_id, token = settings.sipgate_token_id or "", settings.sipgate_token  # required by the settings
        auth = (token_id, token.get_secret_value() if token else "")
        try:
            async with httpx.AsyncClient(
                base_url=settings.sipgate_api_url, auth=auth, timeout=TIMEOUT
            ) as client:
                user = await client.get("/authorization/userinfo", headers={"Accept": "application/json"})
                if user.status_code != 200:
                    return [
                        Check(
                            "sipgate token",
                            "fail",
                            f"refused ({user.status_code})",
                            "check IGNIS_SIPGATE_TOKEN_ID and IGNIS_SIPGATE_TOKEN (a Personal Access Token)",
                        )
                    ]
                user_id = user.json().get("sub", "")
                sms = await client.get(f"/{user_id}/sms", headers={"Accept": "application/json"})
        except (httpx.HTTPError, ValueError) as exc:
            return [
                Check(
                    "sipgate API",
                    "fail",
                    f"not reachable ({type(exc).__name__})",
                    "check IGNIS_SIPGATE_API_URL and the connection",
                )
            ]
        valid = Check("sipgate token", "pass", f"valid (user {user_id})")
        if sms.status_code != 200:
            return [
                valid,
                Check(
                    "sipgate Web SMS",
                    "fail",
                    f"answered {sms.status_code}",
                    "give the token the scope sms:read, and book Web SMS",
                ),
            ]
        ids = [item.get("id") for item in sms.json().get("items", [])]
        return [valid, _check(
            f"sipgate Web SMS {settings.sipgate_sms_id}",
            settings.sipgate_sms_id in ids,
            f"extensions: {', '.join(map(str, ids)) or 'none'}",
            "book Web SMS in sipgate's feature store, and set IGNIS_SIPGATE_SMS_ID to one of the extensions",
        )]  # fmt: skip


def _region(host: str) -> str | None:
    """`eu`, `in`, `sg` for ElevenLabs' residency hosts (`*.eu.residency.elevenlabs.io`), `us` for
    `*.us.elevenlabs.io`, `global` for the others of elevenlabs.io; None for a host not ElevenLabs'."""
    labels = host.lower().rstrip(".").split(".")
    if labels[-2:] != ["elevenlabs", "io"]:
        return None
    if "residency" in labels[1:]:
        return labels[labels.index("residency") - 1]
    return "us" if labels[-3:-2] == ["us"] else "global"


def _outbound(trunk: dict[str, Any]) -> str:
    return f"user {trunk.get('username')} at {trunk.get('address')} over {trunk.get('transport')}"


def _when(unix: object) -> str:
    if not isinstance(unix, int):
        return "unknown time"
    return f"{dt.datetime.fromtimestamp(unix, dt.UTC):%Y-%m-%d %H:%M} UTC"


def _digits(number: object) -> str:
    return "".join(ch for ch in str(number or "") if ch.isdigit())
