"""`ignis provision`: make an ElevenLabs workspace hold what this practice's gateway needs.

Each resource is found by a stable name, compared with what it should be, and created or updated only
where it differs, so a second run changes nothing. Secrets never leave this process in clear: the tool
secret is stored at ElevenLabs under a name carrying a short fingerprint (to see whether it changed), the
post-call webhook's HMAC secret goes to `IGNIS_HOME/secrets.json`, where the gateway reads it.
"""

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from elevenlabs import ElevenLabs
from elevenlabs.core.api_error import ApiError
from pydantic import BaseModel, SecretStr

from ignis.contracts.tools import TOOL_BODIES
from ignis.kit.phones import to_e164
from ignis.kit.settings import store_secret, stored_secret
from ignis.practice.config import Practice
from ignis.provision import agent
from ignis.provision.agent import AgentTexts
from ignis.provision.settings import ProvisionSettings

T = TypeVar("T")
TOOL_SECRET_PREFIX = "ignis_tool_secret_"
POST_CALL_WEBHOOK_NAME = "Ignis post-call"
AGENT_ID = "elevenlabs_agent_id"  # IGNIS_HOME: read by the patients service's reconciliation
RETRIES_FOR = "elevenlabs_webhook_retries"  # IGNIS_HOME: the webhook whose retries provision turned on
NEW = "<new>"  # the id of a resource a dry run would create
# Agent fields ElevenLabs fills in itself (defaults): compared only where we set them.
Action = Literal["create", "update", "unchanged", "replace"]


@contextlib.contextmanager
def connect(settings: ProvisionSettings) -> Iterator[ElevenLabs]:
    """The official SDK's client for the workspace (`IGNIS_ELEVENLABS_API_URL`: a local fake in tests)."""
    key = settings.elevenlabs_api_key.get_secret_value() if settings.elevenlabs_api_key else ""
    with httpx.Client(timeout=30) as http:  # base_url None: the SDK's production environment
        yield ElevenLabs(api_key=key, httpx_client=http, base_url=settings.elevenlabs_api_url)


class ProvisionError(Exception):
    """Provisioning cannot go on; the message says why and what to do, and never holds a secret."""


@dataclass(frozen=True)
class Change:
    action: Action
    resource: str
    detail: str = ""

    def __str__(self) -> str:
        sign = {"create": "+", "update": "~", "unchanged": "=", "replace": "!"}[self.action]
        text = f"{sign} {self.resource}: {self.action}"
        return f"{text} ({self.detail})" if self.detail else text


def fingerprint(secret: str) -> str:
    """Eight hex digits of the secret's SHA-256: tells a changed secret apart, reveals nothing usable."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def tool_secret_name(secret: str) -> str:
    """The workspace secret's name for this tool secret: a new secret gets a new name."""
    return TOOL_SECRET_PREFIX + fingerprint(secret)


def pages(list_page: Callable[..., Any], field: str) -> Iterator[dict[str, Any]]:
    """Every item of a paginated SDK list (`next_cursor` / `has_more`), as plain data."""
    cursor = None
    while True:
        page = list_page(cursor=cursor) if cursor else list_page()
        yield from plain(getattr(page, field))
        cursor = getattr(page, "next_cursor", None)
        if not cursor or not getattr(page, "has_more", False):
            return


def differences(wanted: Any, actual: Any, path: str = "") -> list[str]:
    """The paths where `actual` does not hold what `wanted` says; keys `wanted` does not name are the
    platform's defaults and do not count."""
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return [path or "."]
        found: list[str] = []
        for key, value in wanted.items():
            found += differences(value, actual.get(key), f"{path}.{key}" if path else key)
        return found
    if isinstance(wanted, list):
        if not isinstance(actual, list) or len(wanted) != len(actual):
            return [path]
        return [p for w, a in zip(wanted, actual, strict=True) for p in differences(w, a, path)][:1]
    return [] if wanted == actual else [path]


def plain(model: Any) -> Any:
    """An SDK response as plain JSON data (the SDK's models allow and keep unknown fields)."""
    if isinstance(model, BaseModel):
        return model.model_dump(mode="json", exclude_none=True)
    if isinstance(model, list):
        return [plain(item) for item in model]
    return model


class Workspace:
    """One run of `ignis provision` against one ElevenLabs workspace."""

    def __init__(
        self,
        client: ElevenLabs,
        settings: ProvisionSettings,
        practice: Practice,
        texts: AgentTexts,
        *,
        dry_run: bool,
        report: Callable[[Change], None],
        max_retries: int = 2,
    ) -> None:
        if not settings.public_url or not settings.public_url.startswith("https://"):
            raise ProvisionError(
                "--public-url (or IGNIS_PUBLIC_URL) must be the gateway's public HTTPS address, "
                "e.g. https://ignis.praxis-weber.de: ElevenLabs calls the tools there"
            )
        self.client = client
        self.settings = settings
        self.public_url = settings.public_url.rstrip("/")
        self.practice = practice
        self.texts = texts
        self.dry_run = dry_run
        self.report = report
        self.options = {"max_retries": max_retries}
        self.changes: list[Change] = []

    def _note(self, action: Action, resource: str, detail: str = "") -> None:
        change = Change(action, resource, detail)
        self.changes.append(change)
        self.report(change)

    def _call(self, what: str, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one API call; a refusal becomes a `ProvisionError` naming `what` and the remedy."""
        try:
            return operation(*args, **kwargs, request_options=self.options)
        except ApiError as exc:
            raise ProvisionError(_explain(what, exc)) from None
        except (OSError, httpx.TransportError) as exc:  # no route, DNS, refused, timed out
            raise ProvisionError(
                f"{what}: ElevenLabs not reachable ({type(exc).__name__}): check this machine's internet "
                "access and IGNIS_ELEVENLABS_API_URL (empty for ElevenLabs' own), then run again"
            ) from None

    def run(self) -> list[Change]:
        secret_id = self.tool_secret()
        tool_ids = self.tools(secret_id)
        agent_id = self.agent(tool_ids)
        webhook_id = self.post_call_webhook()
        self.convai_settings(webhook_id, secret_id)
        self.phone_number(agent_id)
        # Last: ElevenLabs refuses to delete a webhook the workspace settings still point at, and a webhook
        # that something else still uses must not keep the rest from being set up.
        self.retire_old_webhooks(webhook_id)
        return self.changes

    # The tool secret: the header value ElevenLabs sends with every tool call and the initiation webhook.

    def tool_secret(self) -> str:
        value = self.settings.tool_secret.get_secret_value()
        name = tool_secret_name(value)
        api = self.client.conversational_ai.secrets
        secrets = plain(self._call("list secrets", api.list).secrets)
        ours = [s for s in secrets if str(s.get("name", "")).startswith(TOOL_SECRET_PREFIX)]
        if not ours:
            self._note("create", "secret (tool secret)")
            return (
                NEW
                if self.dry_run
                else self._call("create secret", api.create, name=name, value=value).secret_id
            )
        current = ours[0]
        if current["name"] == name:
            self._note("unchanged", "secret (tool secret)")
        else:
            self._note("update", "secret (tool secret)", "IGNIS_TOOL_SECRET changed")
            if not self.dry_run:
                self._call("update secret", api.update, current["secret_id"], name=name, value=value)
        return str(current["secret_id"])

    # Tools

    def _existing_tools(self) -> dict[str, dict[str, Any]]:
        api = self.client.conversational_ai.tools
        found: dict[str, dict[str, Any]] = {}
        for tool in self._pages("list tools", api.list, "tools"):
            config = tool.get("tool_config", {})
            if config.get("type") == "webhook" and config.get("name") in TOOL_BODIES:
                found.setdefault(config["name"], tool)
        return found

    def tools(self, secret_id: str) -> list[str]:
        api = self.client.conversational_ai.tools
        existing = self._existing_tools()
        ids = []
        for name, description in self.texts.tool_descriptions.items():
            wanted = agent.tool_config(
                name, description, self.public_url, secret_id, self.settings.tool_timeout_seconds
            )
            current = existing.get(name)
            if current is None:
                self._note("create", f"tool {name}")
                ids.append(
                    NEW
                    if self.dry_run
                    else self._call(f"create tool {name}", api.create, request={"tool_config": wanted}).id
                )
                continue
            changed = differences(wanted, current.get("tool_config"))
            if changed:
                self._note("update", f"tool {name}", ", ".join(changed))
                if not self.dry_run:
                    self._call(
                        f"update tool {name}", api.update, current["id"], request={"tool_config": wanted}
                    )
            else:
                self._note("unchanged", f"tool {name}")
            ids.append(str(current["id"]))
        return ids

    # Agent

    @property
    def agent_name(self) -> str:
        return agent.agent_name(self.practice)

    def agent(self, tool_ids: list[str]) -> str:
        api = self.client.conversational_ai.agents
        wanted = agent.agent_config(
            self.practice,
            self.texts,
            tool_ids,
            tts_model=self.settings.tts_model,
            voice_id=self.settings.voice_id,
            llm=self.settings.llm,
            routing=self.practice.transfer_routing(),
            retention_days=self.settings.call_retention_days,
        )
        summaries = [
            a for a in self._pages("list agents", api.list, "agents") if a.get("name") == self.agent_name
        ]
        resource = f'agent "{self.agent_name}"'
        if not summaries:
            self._note("create", resource)
            if self.dry_run:
                return NEW
            return self._remember_agent(
                str(self._call("create agent", api.create, name=self.agent_name, **wanted).agent_id)
            )
        agent_id = self._remember_agent(str(summaries[0]["agent_id"]))
        current = plain(self._call("read agent", api.get, agent_id))
        changed = differences(wanted, current)
        if changed:
            self._note("update", resource, _summarise(changed))
            if not self.dry_run:
                self._call("update agent", api.update, agent_id, **wanted)
        else:
            self._note("unchanged", resource)
        return agent_id

    def _remember_agent(self, agent_id: str) -> str:
        """The patients service reconciles this agent's conversations (IGNIS_ELEVENLABS_AGENT_ID wins)."""
        if not self.dry_run:
            store_secret(self.settings.home, AGENT_ID, agent_id)
        return agent_id

    # Webhooks

    def _our_webhooks(self) -> list[dict[str, Any]]:
        api = self.client.webhooks
        hooks = plain(self._call("list webhooks", api.list).webhooks)
        return [w for w in hooks if w.get("name") == POST_CALL_WEBHOOK_NAME]

    def post_call_webhook(self) -> str:
        """The workspace webhook for transcripts. Its HMAC secret is shown once, when it is created: if the
        gateway does not hold the secret of the current one (or its URL changed), a new one is created; the
        old one is deleted only after the settings point at the new one (`retire_old_webhooks`)."""
        api = self.client.webhooks
        url = self.public_url + agent.POST_CALL_PATH
        home = self.settings.home
        known = stored_secret(home, "elevenlabs_webhook_id")
        ours = self._our_webhooks()
        current = next((w for w in ours if w.get("webhook_id") == known), None)
        if current is not None and current.get("webhook_url") == url:
            self._keep_delivering(current)
            return str(current["webhook_id"])
        if not ours:
            self._note("create", "post-call webhook", "its HMAC secret goes to IGNIS_HOME/secrets.json")
        else:
            why = "URL changed" if current is not None else "its secret is not in IGNIS_HOME"
            self._note(
                "replace",
                "post-call webhook",
                f"{why}; a new HMAC secret goes to IGNIS_HOME/secrets.json: restart the gateway",
            )
        if self.dry_run:
            return NEW
        created = self._call(
            "create post-call webhook",
            api.create,
            settings={"auth_type": "hmac", "name": POST_CALL_WEBHOOK_NAME, "webhook_url": url},
        )
        if not created.webhook_secret:
            raise ProvisionError("ElevenLabs made the post-call webhook without a secret; provision again")
        store_secret(home, "elevenlabs_webhook_secret", created.webhook_secret)
        store_secret(home, "elevenlabs_webhook_id", created.webhook_id)
        self._enable_retries(str(created.webhook_id))
        return str(created.webhook_id)

    def _keep_delivering(self, hook: dict[str, Any]) -> None:
        """Enabled, and retried on 5xx/429/timeouts: retries are off by default, and a webhook that keeps
        failing is auto-disabled until someone enables it again. The API does not show `retry_enabled`, so
        the webhook it was last turned on for is remembered in IGNIS_HOME."""
        webhook_id = str(hook["webhook_id"])
        problems = [
            reason
            for reason, present in (
                ("disabled", hook.get("is_disabled")),
                ("auto-disabled after repeated failures", hook.get("is_auto_disabled")),
                ("retries not turned on", stored_secret(self.settings.home, RETRIES_FOR) != webhook_id),
            )
            if present
        ]
        if not problems:
            self._note("unchanged", "post-call webhook")
            return
        self._note("update", "post-call webhook", "; ".join(problems) + ": enabled with retries")
        if not self.dry_run:
            self._enable_retries(webhook_id)

    def _enable_retries(self, webhook_id: str) -> None:
        self._call(
            "enable post-call webhook retries",
            self.client.webhooks.update,
            webhook_id,
            is_disabled=False,
            name=POST_CALL_WEBHOOK_NAME,
            retry_enabled=True,
        )
        store_secret(self.settings.home, RETRIES_FOR, webhook_id)

    def retire_old_webhooks(self, webhook_id: str) -> None:
        """Delete our post-call webhooks other than the current one (the settings no longer use them)."""
        if self.dry_run:
            return
        for hook in self._our_webhooks():
            if hook.get("webhook_id") != webhook_id:
                self._note("replace", "old post-call webhook", "deleted")
                self._call("delete old post-call webhook", self.client.webhooks.delete, hook["webhook_id"])

    def convai_settings(self, webhook_id: str, secret_id: str) -> None:
        api = self.client.conversational_ai.settings
        wanted = {
            "webhooks": {
                "post_call_webhook_id": webhook_id,
                "events": ["transcript", "call_initiation_failure"],
            },
            "conversation_initiation_client_data_webhook": {
                "url": self.public_url + agent.INITIATION_PATH,
                "request_headers": {agent.TOOL_SECRET_HEADER: {"secret_id": secret_id}},
            },
        }
        changed = differences(wanted, plain(self._call("read settings", api.get)))
        if not changed:
            self._note("unchanged", "workspace settings (post-call and conversation-init webhooks)")
            return
        self._note("update", "workspace settings", _summarise(changed))
        if not self.dry_run:
            self._call("update settings", api.update, **wanted)

    # Phone number

    def phone_number(self, agent_id: str) -> None:
        number = self.settings.sip_number or e164(self.practice.phone)
        encryption = self.settings.sip_media_encryption
        # Inbound: the digest credentials ElevenLabs asks of sipgate (or the bridge). Outbound (transfers
        # that are not a SIP REFER, outgoing calls): sipgate's own SIP credentials and transport.
        inbound = _Trunk(
            "inbound",
            {"media_encryption": encryption},
            self.settings.sip_username,
            self.settings.sip_password,
            "IGNIS_SIP_USERNAME and IGNIS_SIP_PASSWORD",
        )
        outbound = _Trunk(
            "outbound",
            {
                "address": self.settings.sip_outbound_address,
                "transport": self.settings.sip_outbound_transport,
                "media_encryption": encryption,
            },
            self.settings.sip_registrar_username,
            self.settings.sip_registrar_password,
            "IGNIS_SIP_REGISTRAR_USERNAME and IGNIS_SIP_REGISTRAR_PASSWORD",
        )
        label = f"{self.practice.name} (Ignis)"
        api = self.client.conversational_ai.phone_numbers
        resource = f"phone number {number}"
        existing = [
            p for p in plain(self._call("list phone numbers", api.list)) if p.get("phone_number") == number
        ]
        home = self.settings.home
        if not existing:
            transport = outbound.config["transport"]
            self._note("create", resource, f"SIP trunk, outbound over {transport}, agent assigned")
            if self.dry_run:
                return
            body: dict[str, Any] = {"provider": "sip_trunk", "phone_number": number, "label": label}
            body["inbound_trunk_config"] = inbound.body(with_password=True)
            body["outbound_trunk_config"] = outbound.body(with_password=True)
            if agent_id != NEW:
                body["agent_id"] = agent_id
            self._call("import phone number", api.create, request=body)
            inbound.remember(home)
            outbound.remember(home)
            return
        current = existing[0]
        wanted = {
            "label": label,
            "assigned_agent": {"agent_id": agent_id},
            "inbound_trunk": inbound.shown(),
            "outbound_trunk": outbound.shown(),
        }
        new_passwords = [t for t in (inbound, outbound) if t.password_changed(home)]
        changed = differences(wanted, current) + [f"{t.side}_trunk.password" for t in new_passwords]
        if not changed:
            self._note("unchanged", resource)
            return
        self._note("update", resource, _summarise(changed))
        if self.dry_run:
            return
        # Every update sends the trunk blocks with the username: without `credentials` an update may switch
        # digest authentication off, and the password stays unchanged only when the username is sent.
        self._call(
            "update phone number",
            api.update,
            current["phone_number_id"],
            agent_id=agent_id,
            label=label,
            inbound_trunk_config=inbound.body(with_password=inbound in new_passwords),
            outbound_trunk_config=outbound.body(with_password=outbound in new_passwords),
        )
        inbound.remember(home)
        outbound.remember(home)

    def _pages(self, what: str, operation: Callable[..., Any], field: str) -> Iterator[dict[str, Any]]:
        return pages(lambda **cursor: self._call(what, operation, **cursor), field)


@dataclass(frozen=True)
class _Trunk:
    """One side of the SIP trunk: its settings and the digest credentials it carries, if any."""

    side: Literal["inbound", "outbound"]
    config: dict[str, Any]
    username: str | None
    secret: SecretStr | None
    names: str  # the settings, for the error message

    def __post_init__(self) -> None:
        if bool(self.username) != bool(self.password):
            raise ProvisionError(f"set both {self.names}, or neither")

    @property
    def password(self) -> str | None:
        return self.secret.get_secret_value() if self.secret else None

    @property
    def _fingerprint_name(self) -> str:
        # the inbound name is the one stored before outbound credentials existed
        return "sip_password_fingerprint" if self.side == "inbound" else "sip_outbound_password_fingerprint"

    def body(self, *, with_password: bool) -> dict[str, Any]:
        if not self.username:
            return dict(self.config)
        credentials = {"username": self.username} | ({"password": self.password} if with_password else {})
        return self.config | {"credentials": credentials}

    def shown(self) -> dict[str, Any]:
        """What the API shows of this side when it holds what we want (passwords are never shown)."""
        if not self.username:
            return dict(self.config)
        return self.config | {"has_auth_credentials": True, "username": self.username}

    def password_changed(self, home: Path) -> bool:
        return bool(self.password) and stored_secret(home, self._fingerprint_name) != fingerprint(
            self.password or ""
        )

    def remember(self, home: Path) -> None:
        if self.password:
            store_secret(home, self._fingerprint_name, fingerprint(self.password))


def e164(number: str) -> str:
    if (normal := to_e164(number)) is None:
        raise ProvisionError(f"not a phone number in the practice file: {number!r}")
    return normal


def _summarise(paths: list[str]) -> str:
    shown = sorted({p.split(".tool_ids")[0] if ".tool_ids" in p else p for p in paths})
    return ", ".join(shown[:6]) + (f" and {len(shown) - 6} more" if len(shown) > 6 else "")


def _explain(what: str, exc: ApiError) -> str:
    status = exc.status_code
    detail = _detail(exc.body)
    if status == 401:
        return f"{what}: ElevenLabs refused the API key (401): check IGNIS_ELEVENLABS_API_KEY"
    if status == 403:
        return f"{what}: the API key may not do this (403): give it ConvAI and workspace webhook access"
    if status == 429:
        return (
            f"{what}: ElevenLabs rate limit (429): wait a minute and run again (it resumes where it stopped)"
        )
    if status is not None and status >= 500:
        return f"{what}: ElevenLabs failed ({status}): run again later"
    return f"{what}: ElevenLabs refused it ({status}): {detail}"


def _detail(body: Any) -> str:
    """The API's reason, without echoing what was sent (which may hold a secret)."""
    if isinstance(body, dict):
        detail = body.get("detail", body)
        if isinstance(detail, list):
            return "; ".join(
                f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg', '')}"
                for item in detail
                if isinstance(item, dict)
            )[:500]
        if isinstance(detail, dict):
            return str(detail.get("message") or detail.get("status") or "")[:500]
        return str(detail)[:500]
    return json.dumps(body)[:200] if body is not None else "no details"
