"""The ElevenLabs fake, driven through the real SDK: every answer it gives must parse.

The SDK itself parses leniently (`construct_type` never raises on a missing field), so the client used
here also validates every 2xx body strictly against the response model the SDK's raw client names for
that call (`conversational_ai/*/raw_client.py`): a fake answer missing a required field fails the test.
"""

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from elevenlabs import (
    AsyncElevenLabs,
    ConvAiWorkspaceStoredSecretConfig,
    CreateAgentResponseModel,
    CreatePhoneNumberResponseModel,
    DeleteWorkspaceWebhookResponseModel,
    ElevenLabs,
    GetAgentResponseModel,
    GetAgentsPageResponseModel,
    GetConvAiSettingsResponseModel,
    GetWorkspaceSecretsResponseModel,
    PatchWorkspaceWebhookResponseModel,
    PostWorkspaceSecretResponseModel,
    ToolRequestModel,
    ToolResponseModel,
    ToolsResponseModel,
    User,
    WebhookHmacSettings,
    WorkspaceCreateWebhookResponseModel,
    WorkspaceWebhookListResponseModel,
)
from elevenlabs.conversational_ai.phone_numbers import (
    PhoneNumbersGetResponse,
    PhoneNumbersGetResponse_SipTrunk,
    PhoneNumbersListResponseItem,
    PhoneNumbersUpdateResponse,
)
from elevenlabs.core.api_error import ApiError
from elevenlabs.core.request_options import RequestOptions
from elevenlabs.errors import UnprocessableEntityError
from pydantic import TypeAdapter

from tests.fakes.elevenlabs import FakeElevenLabs

NO_RETRY: RequestOptions = {"max_retries": 0}
ID = r"[^/]+"
# (method, path, what the SDK parses a 2xx body as; None: the SDK does not look at the body)
SHAPES: list[tuple[str, str, Any]] = [
    ("GET", "/v1/user", User),
    ("GET", "/v1/convai/secrets", GetWorkspaceSecretsResponseModel),
    ("POST", "/v1/convai/secrets", PostWorkspaceSecretResponseModel),
    ("GET", f"/v1/convai/secrets/{ID}", ConvAiWorkspaceStoredSecretConfig),
    ("PATCH", f"/v1/convai/secrets/{ID}", PostWorkspaceSecretResponseModel),
    ("DELETE", f"/v1/convai/secrets/{ID}", None),
    ("GET", "/v1/convai/tools", ToolsResponseModel),
    ("POST", "/v1/convai/tools", ToolResponseModel),
    ("GET", f"/v1/convai/tools/{ID}", ToolResponseModel),
    ("PATCH", f"/v1/convai/tools/{ID}", ToolResponseModel),
    ("DELETE", f"/v1/convai/tools/{ID}", Any),
    ("POST", "/v1/convai/agents/create", CreateAgentResponseModel),
    ("GET", "/v1/convai/agents", GetAgentsPageResponseModel),
    ("GET", f"/v1/convai/agents/{ID}", GetAgentResponseModel),
    ("PATCH", f"/v1/convai/agents/{ID}", GetAgentResponseModel),
    ("DELETE", f"/v1/convai/agents/{ID}", None),
    ("GET", "/v1/workspace/webhooks", WorkspaceWebhookListResponseModel),
    ("POST", "/v1/workspace/webhooks", WorkspaceCreateWebhookResponseModel),
    ("PATCH", f"/v1/workspace/webhooks/{ID}", PatchWorkspaceWebhookResponseModel),
    ("DELETE", f"/v1/workspace/webhooks/{ID}", DeleteWorkspaceWebhookResponseModel),
    ("GET", "/v1/convai/settings", GetConvAiSettingsResponseModel),
    ("PATCH", "/v1/convai/settings", GetConvAiSettingsResponseModel),
    ("GET", "/v1/convai/phone-numbers", list[PhoneNumbersListResponseItem]),
    ("POST", "/v1/convai/phone-numbers", CreatePhoneNumberResponseModel),
    ("GET", f"/v1/convai/phone-numbers/{ID}", PhoneNumbersGetResponse),
    ("PATCH", f"/v1/convai/phone-numbers/{ID}", PhoneNumbersUpdateResponse),
    ("DELETE", f"/v1/convai/phone-numbers/{ID}", Any),
]


def response_model(method: str, path: str) -> Any:
    for shape_method, pattern, model in SHAPES:
        if shape_method == method and re.fullmatch(pattern, path):
            return model
    raise AssertionError(f"no response model known for {method} {path}")


async def strictly_parsed(response: httpx.Response) -> None:
    """httpx response hook: a 2xx body must validate against the SDK's response model, strictly."""
    if not response.is_success:
        return
    await response.aread()
    model = response_model(response.request.method, response.request.url.path)
    if model is not None:
        TypeAdapter(model).validate_python(response.json())


@pytest.fixture
async def client(elevenlabs: FakeElevenLabs) -> AsyncIterator[AsyncElevenLabs]:
    async with httpx.AsyncClient(event_hooks={"response": [strictly_parsed]}, timeout=10) as http:
        yield AsyncElevenLabs(api_key=elevenlabs.api_key, base_url=elevenlabs.url, httpx_client=http)


def webhook_tool(name: str = "find_patient", **overrides: Any) -> dict[str, Any]:
    """A tool config as `ignis provision` would send it (reference §1.2)."""
    config: dict[str, Any] = {
        "type": "webhook",
        "name": name,
        "description": "Sucht den Patienten. Aufrufen, sobald Nachname und Geburtsdatum bekannt sind.",
        "response_timeout_secs": 10,
        "tool_error_handling_mode": "summarized",
        "api_schema": {
            "url": f"https://ignis.example.de/el/tools/{name}",
            "method": "POST",
            "content_type": "application/json",
            "request_headers": {"X-Ignis-Tool-Secret": "plain"},
            "request_body_schema": {
                "type": "object",
                "required": ["caller_phone", "last_name"],
                "properties": {
                    "caller_phone": {"type": "string", "dynamic_variable": "system__caller_id"},
                    "conversation_id": {"type": "string", "dynamic_variable": "system__conversation_id"},
                    "last_name": {"type": "string", "description": "Nachname des Patienten"},
                },
            },
        },
    }
    config.update(overrides)
    return config


def german_agent(tool_ids: list[str], **tts: Any) -> dict[str, Any]:
    return {
        "agent": {
            "language": "de",
            "first_message": "Praxis Dr. Muster, guten Tag.",
            "prompt": {"prompt": "Du bist die Rezeption.", "timezone": "Europe/Berlin", "tool_ids": tool_ids},
        },
        "tts": {"model_id": "eleven_flash_v2_5", **tts},
    }


def detail(error: ApiError) -> Any:
    assert isinstance(error.body, dict), error.body
    return error.body["detail"]


async def test_wrong_or_missing_key_is_401(elevenlabs: FakeElevenLabs) -> None:
    wrong = AsyncElevenLabs(api_key="sk_wrong", base_url=elevenlabs.url)
    with pytest.raises(ApiError) as raised:
        await wrong.conversational_ai.tools.list(request_options=NO_RETRY)
    assert raised.value.status_code == 401
    assert detail(raised.value) == {"status": "invalid_api_key", "message": "Invalid API key"}

    async with httpx.AsyncClient() as http:
        response = await http.get(f"{elevenlabs.url}/v1/convai/tools")
    assert response.status_code == 401
    assert elevenlabs.requests[-1].path == "/v1/convai/tools"


async def test_user_parses(client: AsyncElevenLabs) -> None:
    user = await client.user.get()
    assert user.subscription.status == "active"


async def test_secrets_round_trip(client: AsyncElevenLabs, elevenlabs: FakeElevenLabs) -> None:
    created = await client.conversational_ai.secrets.create(name="ignis_tool_secret", value="s3cret")
    assert created.type == "stored"
    assert elevenlabs.secrets[created.secret_id]["value"] == "s3cret"

    listed = await client.conversational_ai.secrets.list()
    assert [(s.secret_id, s.name) for s in listed.secrets] == [(created.secret_id, "ignis_tool_secret")]
    assert "s3cret" not in str(elevenlabs.responses)

    updated = await client.conversational_ai.secrets.update(
        created.secret_id, name="ignis_tool_secret", value="n3w"
    )
    assert updated.secret_id == created.secret_id
    assert elevenlabs.secrets[created.secret_id]["value"] == "n3w"
    assert elevenlabs.requests[-1].body == {"name": "ignis_tool_secret", "value": "n3w", "type": "update"}

    got = await client.conversational_ai.secrets.get(created.secret_id)
    assert got.used_by.tools == []

    await client.conversational_ai.secrets.delete(created.secret_id)
    assert elevenlabs.secrets == {}
    with pytest.raises(ApiError) as raised:
        await client.conversational_ai.secrets.get(created.secret_id)
    assert raised.value.status_code == 404


async def test_tools_round_trip(client: AsyncElevenLabs, elevenlabs: FakeElevenLabs) -> None:
    secret = await client.conversational_ai.secrets.create(name="tool", value="x")
    sent = webhook_tool()
    sent["api_schema"]["request_headers"] = {"X-Ignis-Tool-Secret": {"secret_id": secret.secret_id}}

    created = await client.conversational_ai.tools.create(request=ToolRequestModel(tool_config=sent))
    assert created.id.startswith("tool_")
    assert elevenlabs.tools[created.id]["tool_config"] == sent

    got = await client.conversational_ai.tools.get(created.id)
    assert got.tool_config.type == "webhook"
    assert got.tool_config.api_schema.url == sent["api_schema"]["url"]
    assert got.tool_config.response_timeout_secs == 10
    assert got.tool_config.pre_tool_speech == "auto"  # a server default, never sent

    listed = await client.conversational_ai.tools.list()
    assert [t.id for t in listed.tools] == [created.id]
    assert listed.has_more is False

    used_by = (await client.conversational_ai.secrets.get(secret.secret_id)).used_by
    assert [t.id for t in used_by.tools] == [created.id]
    with pytest.raises(ApiError) as raised:
        await client.conversational_ai.secrets.delete(secret.secret_id, request_options=NO_RETRY)
    assert raised.value.status_code == 400

    changed = webhook_tool(response_timeout_secs=15)
    updated = await client.conversational_ai.tools.update(created.id, request={"tool_config": changed})
    assert updated.tool_config.response_timeout_secs == 15
    assert elevenlabs.tools[created.id]["tool_config"] == changed

    await client.conversational_ai.tools.delete(created.id)
    assert elevenlabs.tools == {}


async def test_system_and_client_tools_parse(client: AsyncElevenLabs) -> None:
    end_call = {"type": "system", "name": "end_call", "params": {"system_tool_type": "end_call"}}
    created = await client.conversational_ai.tools.create(request={"tool_config": end_call})
    assert created.tool_config.type == "system"
    browser = {"type": "client", "name": "show", "description": "Zeigt etwas an"}
    created = await client.conversational_ai.tools.create(request={"tool_config": browser})
    assert created.tool_config.type == "client"
    assert len((await client.conversational_ai.tools.list()).tools) == 2


@pytest.mark.parametrize(
    ("change", "loc_tail"),
    [
        pytest.param(
            {
                "caller_phone": {
                    "type": "string",
                    "dynamic_variable": "system__caller_id",
                    "description": "Nummer",
                }
            },
            ["caller_phone"],
            id="description-and-dynamic-variable",
        ),
        pytest.param({"last_name": {"type": "string"}}, ["last_name"], id="no-value-source"),
        pytest.param(
            {"x": {"type": "string", "constant_value": "a", "is_omitted": True}},
            ["x"],
            id="two-value-sources",
        ),
    ],
)
async def test_tool_properties_need_exactly_one_value_source(
    client: AsyncElevenLabs, elevenlabs: FakeElevenLabs, change: dict[str, Any], loc_tail: list[str]
) -> None:
    config = webhook_tool()
    config["api_schema"]["request_body_schema"]["properties"].update(change)
    with pytest.raises(UnprocessableEntityError) as raised:
        await client.conversational_ai.tools.create(request={"tool_config": config})
    [error] = detail(raised.value)
    assert error["loc"][-len(loc_tail) :] == loc_tail
    assert error["type"] == "value_error"
    assert elevenlabs.tools == {}


@pytest.mark.parametrize(
    ("config", "loc_end"),
    [
        pytest.param(
            webhook_tool(
                api_schema={**webhook_tool()["api_schema"], "request_headers": {"X": {"secret_id": "nope"}}}
            ),
            "secret_id",
            id="unknown-secret",
        ),
        pytest.param(webhook_tool(response_timeout_secs=301), "response_timeout_secs", id="timeout-too-long"),
        pytest.param(webhook_tool(response_timeout_secs=4), "response_timeout_secs", id="timeout-too-short"),
        pytest.param(webhook_tool(tool_error_handling_mode="loud"), "tool_error_handling_mode", id="mode"),
        pytest.param(webhook_tool(api_schema={"url": "https://x", "method": "FETCH"}), "method", id="method"),
        pytest.param(webhook_tool(api_schema={"method": "POST"}), "url", id="no-url"),
        pytest.param(webhook_tool(description=""), "description", id="no-description"),
        pytest.param(webhook_tool(type="mcp"), "type", id="type"),
    ],
)
async def test_tool_config_validation(client: AsyncElevenLabs, config: dict[str, Any], loc_end: str) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        await client.conversational_ai.tools.create(request={"tool_config": config})
    assert detail(raised.value)[0]["loc"][-1] == loc_end


async def test_agents_round_trip(client: AsyncElevenLabs, elevenlabs: FakeElevenLabs) -> None:
    tool = await client.conversational_ai.tools.create(request={"tool_config": webhook_tool()})
    other = await client.conversational_ai.tools.create(request={"tool_config": webhook_tool("book")})
    created = await client.conversational_ai.agents.create(
        name="Ignis Rezeption",
        conversation_config=german_agent([tool.id]),
        platform_settings={"overrides": {"enable_conversation_initiation_client_data_from_webhook": True}},
        tags=["ignis"],
    )
    assert created.agent_id.startswith("agent_")

    got = await client.conversational_ai.agents.get(created.agent_id)
    assert got.name == "Ignis Rezeption"
    assert got.conversation_config.agent.language == "de"
    assert got.conversation_config.agent.prompt.tool_ids == [tool.id]
    assert got.conversation_config.conversation.max_duration_seconds == 600  # a server default
    assert got.platform_settings.overrides.enable_conversation_initiation_client_data_from_webhook is True

    listed = await client.conversational_ai.agents.list()
    assert [(a.agent_id, a.name, a.tags) for a in listed.agents] == [
        (created.agent_id, "Ignis Rezeption", ["ignis"])
    ]

    updated = await client.conversational_ai.agents.update(
        created.agent_id,
        conversation_config={"agent": {"first_message": "Hallo!", "prompt": {"tool_ids": [other.id]}}},
    )
    assert updated.conversation_config.agent.first_message == "Hallo!"
    assert updated.conversation_config.agent.language == "de"  # merged, not replaced
    assert updated.conversation_config.agent.prompt.timezone == "Europe/Berlin"
    assert updated.conversation_config.agent.prompt.tool_ids == [other.id]  # lists are replaced
    assert (
        elevenlabs.agents[created.agent_id]["conversation_config"]["tts"]["model_id"] == "eleven_flash_v2_5"
    )

    with pytest.raises(ApiError) as raised:
        await client.conversational_ai.tools.delete(other.id, request_options=NO_RETRY)
    assert raised.value.status_code == 400

    await client.conversational_ai.agents.delete(created.agent_id)
    assert elevenlabs.agents == {}
    with pytest.raises(ApiError) as raised:
        await client.conversational_ai.agents.get(created.agent_id)
    assert raised.value.status_code == 404


async def test_inline_prompt_tools_are_refused(client: AsyncElevenLabs, elevenlabs: FakeElevenLabs) -> None:
    config = german_agent([])
    config["agent"]["prompt"]["tools"] = [webhook_tool()]
    with pytest.raises(UnprocessableEntityError) as raised:
        await client.conversational_ai.agents.create(conversation_config=config)
    [error] = detail(raised.value)
    assert error["loc"][-1] == "tools"
    assert "tool_ids" in error["msg"]
    assert elevenlabs.agents == {}


async def test_unknown_tool_id_is_refused(client: AsyncElevenLabs, elevenlabs: FakeElevenLabs) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        await client.conversational_ai.agents.create(conversation_config=german_agent(["tool_gone"]))
    assert detail(raised.value)[0]["loc"][-2:] == ["tool_ids", 0]
    assert elevenlabs.agents == {}


def _with_transfers(*transfers: dict[str, Any]) -> dict[str, Any]:
    config = german_agent([])
    tool = {
        "type": "system",
        "name": "transfer_to_number",
        "description": "",
        "params": {"system_tool_type": "transfer_to_number", "transfers": list(transfers)},
    }
    config["agent"]["prompt"]["built_in_tools"] = {"transfer_to_number": tool}
    return config


def _transfer(destination: dict[str, str], **rule: str) -> dict[str, Any]:
    return {"transfer_destination": destination, "condition": "Nur wenn geöffnet.", **rule}


@pytest.mark.parametrize(
    ("transfers", "loc_end", "why"),
    [
        ([_transfer({"type": "phone", "phone_number": "030 1234568"})], "phone_number", "E.164"),
        ([_transfer({"type": "sip_uri", "sip_uri": "sip:empfang@praxis.example"},
                    transfer_type="conference")], "transfer_type", "SIP REFER"),
        ([{"transfer_destination": {"type": "phone", "phone_number": "+49301234568"}, "condition": " "}],
         "condition", ""),
        ([_transfer({"type": "phone", "phone_number": "+49301234568"})] * 2, "transfer_destination",
         "Duplicate"),
        ([], "transfers", "At least one"),
    ],
)  # fmt: skip
async def test_transfer_to_number_follows_the_vendors_rules(
    client: AsyncElevenLabs,
    elevenlabs: FakeElevenLabs,
    transfers: list[dict[str, Any]],
    loc_end: str,
    why: str,
) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        await client.conversational_ai.agents.create(conversation_config=_with_transfers(*transfers))
    [error] = detail(raised.value)
    assert error["loc"][-1] == loc_end
    assert why in error["msg"]
    assert elevenlabs.agents == {}
    fine = _transfer({"type": "phone", "phone_number": "+49301234568"}, transfer_type="sip_refer")
    created = await client.conversational_ai.agents.create(conversation_config=_with_transfers(fine))
    assert created.agent_id in elevenlabs.agents


async def test_german_agent_with_english_only_tts_is_400(
    client: AsyncElevenLabs, elevenlabs: FakeElevenLabs
) -> None:
    config = german_agent([])
    del config["tts"]  # the default model, eleven_flash_v2, speaks English only
    with pytest.raises(ApiError) as raised:  # a plain ApiError: the SDK has no BadRequestError for agents
        await client.conversational_ai.agents.create(conversation_config=config)
    assert raised.value.status_code == 400
    assert detail(raised.value)["status"] == "invalid_agent_config"

    created = await client.conversational_ai.agents.create(conversation_config=german_agent([]))
    with pytest.raises(ApiError) as raised:
        await client.conversational_ai.agents.update(
            created.agent_id, conversation_config={"tts": {"model_id": "eleven_turbo_v2"}}
        )
    assert raised.value.status_code == 400
    assert (
        elevenlabs.agents[created.agent_id]["conversation_config"]["tts"]["model_id"] == "eleven_flash_v2_5"
    )


async def test_workspace_webhooks_and_settings(client: AsyncElevenLabs, elevenlabs: FakeElevenLabs) -> None:
    created = await client.webhooks.create(
        settings=WebhookHmacSettings(
            auth_type="hmac", name="ignis", webhook_url="https://ignis.example.de/el/post-call"
        )
    )
    assert created.webhook_secret
    assert elevenlabs.webhooks[created.webhook_id]["webhook_secret"] == created.webhook_secret

    listed = await client.webhooks.list(include_usages=True)
    [hook] = listed.webhooks
    assert (hook.webhook_id, hook.auth_type, hook.is_disabled, hook.usage) == (
        created.webhook_id,
        "hmac",
        False,
        [],
    )
    assert created.webhook_secret not in str(elevenlabs.responses[-1])

    assert (
        await client.webhooks.update(created.webhook_id, is_disabled=False, name="ignis-2")
    ).status == "ok"
    assert elevenlabs.webhooks[created.webhook_id]["name"] == "ignis-2"

    before = await client.conversational_ai.settings.get()
    assert before.conversation_initiation_client_data_webhook is None

    secret = await client.conversational_ai.secrets.create(name="init", value="x")
    after = await client.conversational_ai.settings.update(
        conversation_initiation_client_data_webhook={
            "url": "https://ignis.example.de/el/init",
            "request_headers": {"X-Ignis-Init-Secret": {"secret_id": secret.secret_id}},
        },
        webhooks={"post_call_webhook_id": created.webhook_id, "events": ["transcript"]},
    )
    assert after.webhooks.post_call_webhook_id == created.webhook_id
    assert after.webhooks.transcript_format == "json"  # kept from before: merged
    assert after.conversation_initiation_client_data_webhook.url == "https://ignis.example.de/el/init"
    assert (await client.conversational_ai.settings.get()) == after
    assert (await client.conversational_ai.secrets.get(secret.secret_id)).used_by.others == [
        "conversation_initiation_webhook"
    ]
    [hook] = (await client.webhooks.list(include_usages=True)).webhooks
    assert [u.usage_type for u in hook.usage] == ["ConvAI Settings"]

    with pytest.raises(UnprocessableEntityError):
        await client.conversational_ai.settings.update(webhooks={"post_call_webhook_id": "unknown"})
    with pytest.raises(UnprocessableEntityError):
        await client.webhooks.create(
            settings=WebhookHmacSettings(name="x", webhook_url="http://plain.example.de")
        )

    with pytest.raises(ApiError) as raised:  # in use by the settings
        await client.webhooks.delete(created.webhook_id, request_options=NO_RETRY)
    assert (raised.value.status_code, detail(raised.value)["status"]) == (400, "webhook_in_use")
    other = await client.webhooks.create(
        settings=WebhookHmacSettings(name="ignis-new", webhook_url="https://ignis.example.de/new")
    )
    await client.conversational_ai.settings.update(webhooks={"post_call_webhook_id": other.webhook_id})
    assert (await client.webhooks.delete(created.webhook_id)).status == "ok"
    assert list(elevenlabs.webhooks) == [other.webhook_id]


async def test_unknown_fields_are_422(client: AsyncElevenLabs, elevenlabs: FakeElevenLabs) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        await client.conversational_ai.settings.update(webhooks={"events": ["transcript"], "retry": True})
    assert detail(raised.value) == [
        {
            "loc": ["body", "webhooks", "retry"],
            "msg": "Extra inputs are not permitted",
            "type": "extra_forbidden",
        }
    ]
    async with httpx.AsyncClient() as http:
        response = await http.patch(
            f"{elevenlabs.url}/v1/convai/settings",
            headers={"xi-api-key": elevenlabs.api_key},
            json={"post_call_webhook_id": "x"},
        )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "post_call_webhook_id"]


async def test_repeated_delivery_failures_auto_disable_a_webhook(
    client: AsyncElevenLabs, elevenlabs: FakeElevenLabs
) -> None:
    created = await client.webhooks.create(
        settings=WebhookHmacSettings(name="ignis", webhook_url="https://ignis.example.de/el/post-call")
    )
    for _ in range(9):
        elevenlabs.deliver(created.webhook_id, 503)
    [hook] = (await client.webhooks.list()).webhooks
    assert (hook.is_auto_disabled, hook.most_recent_failure_error_code) == (False, 503)
    elevenlabs.deliver(created.webhook_id, 401)
    [hook] = (await client.webhooks.list()).webhooks
    assert (hook.is_auto_disabled, hook.most_recent_failure_error_code) == (True, 401)
    await client.webhooks.update(created.webhook_id, is_disabled=False, name="ignis", retry_enabled=True)
    [hook] = (await client.webhooks.list()).webhooks
    assert hook.is_auto_disabled is False
    assert elevenlabs.webhooks[created.webhook_id]["retry_enabled"] is True


SIP_NUMBER = {
    "provider": "sip_trunk",
    "phone_number": "+4930123456",
    "label": "Praxis Hauptnummer",
    "inbound_trunk_config": {
        "allowed_addresses": ["0.0.0.0/0"],
        "media_encryption": "allowed",
        "credentials": {"username": "ignis", "password": "pw-in"},
    },
    "outbound_trunk_config": {
        "address": "sip.example.de",
        "transport": "tls",
        "credentials": {"username": "out", "password": "pw-out"},
        "enabled_codecs": ["PCMA/8000", "G722/8000"],
    },
}


async def test_phone_numbers_round_trip(client: AsyncElevenLabs, elevenlabs: FakeElevenLabs) -> None:
    agent = await client.conversational_ai.agents.create(
        name="Rezeption", conversation_config=german_agent([])
    )
    created = await client.conversational_ai.phone_numbers.create(
        request={**SIP_NUMBER, "agent_id": agent.agent_id}
    )
    phone_id = created.phone_number_id
    assert elevenlabs.phone_numbers[phone_id]["inbound_trunk_config"]["credentials"]["password"] == "pw-in"

    got = await client.conversational_ai.phone_numbers.get(phone_id)
    assert isinstance(got, PhoneNumbersGetResponse_SipTrunk)
    assert got.assigned_agent.agent_id == agent.agent_id
    assert got.assigned_agent.agent_name == "Rezeption"
    assert (got.inbound_trunk.has_auth_credentials, got.inbound_trunk.username) == (True, "ignis")
    assert got.outbound_trunk.transport == "tls"
    assert "pw-in" not in str(elevenlabs.responses)
    assert "pw-out" not in str(elevenlabs.responses)
    assert [
        p.phone_number_id for p in (await client.conversational_ai.agents.get(agent.agent_id)).phone_numbers
    ] == [phone_id]

    [listed] = await client.conversational_ai.phone_numbers.list()
    assert (listed.provider, listed.phone_number) == ("sip_trunk", "+4930123456")

    updated = await client.conversational_ai.phone_numbers.update(
        phone_id,
        label="Neu",
        inbound_trunk_config={"media_encryption": "required", "credentials": {"username": "ignis"}},
    )
    assert (updated.label, updated.inbound_trunk.media_encryption) == ("Neu", "required")
    assert elevenlabs.phone_numbers[phone_id]["inbound_trunk_config"]["credentials"]["password"] == "pw-in"

    label_only = await client.conversational_ai.phone_numbers.update(phone_id, label="Nur das Label")
    assert label_only.inbound_trunk.username == "ignis"  # what was not sent stays
    assert label_only.assigned_agent.agent_id == agent.agent_id
    with pytest.raises(UnprocessableEntityError):  # the SDK: username required, password optional
        await client.conversational_ai.phone_numbers.update(
            phone_id, inbound_trunk_config={"credentials": {"password": "pw-new"}}
        )
    no_credentials = await client.conversational_ai.phone_numbers.update(
        phone_id, inbound_trunk_config={"media_encryption": "allowed"}
    )
    assert no_credentials.inbound_trunk.has_auth_credentials is False  # a trunk block is replaced

    unassigned = await client.conversational_ai.phone_numbers.update(phone_id, agent_id=None)
    assert unassigned.assigned_agent is None
    assert await client.conversational_ai.phone_numbers.list(agent_id=agent.agent_id) == []

    with pytest.raises(ApiError) as raised:
        await client.conversational_ai.phone_numbers.create(request=SIP_NUMBER, request_options=NO_RETRY)
    assert raised.value.status_code == 409
    with pytest.raises(UnprocessableEntityError):
        await client.conversational_ai.phone_numbers.create(
            request={**SIP_NUMBER, "phone_number": "+49301", "agent_id": "agent_x"}
        )
    with pytest.raises(UnprocessableEntityError):
        await client.conversational_ai.phone_numbers.create(
            request={"provider": "sip_trunk", "phone_number": "+49302"}
        )
    with pytest.raises(UnprocessableEntityError):
        await client.conversational_ai.phone_numbers.update(
            phone_id, outbound_trunk_config={"address": "sip:x.de"}
        )

    await client.conversational_ai.phone_numbers.delete(phone_id)
    assert elevenlabs.phone_numbers == {}


async def test_rate_limit_once_is_retried_by_the_sdk(
    client: AsyncElevenLabs, elevenlabs: FakeElevenLabs
) -> None:
    elevenlabs.fail_next(429)
    with pytest.raises(ApiError) as raised:
        await client.conversational_ai.tools.list(request_options=NO_RETRY)
    assert raised.value.status_code == 429
    assert raised.value.headers["retry-after"] == "0"

    elevenlabs.fail_next(429)
    listed = await client.conversational_ai.tools.list()  # the SDK's own retry (after ~1 s) gets through
    assert listed.tools == []
    assert [status for status, _ in elevenlabs.responses] == [429, 429, 200]


async def test_server_error(client: AsyncElevenLabs, elevenlabs: FakeElevenLabs) -> None:
    elevenlabs.fail_next(500, times=2)
    for _ in range(2):
        with pytest.raises(ApiError) as raised:
            await client.conversational_ai.secrets.create(name="a", value="b", request_options=NO_RETRY)
        assert raised.value.status_code == 500
    assert elevenlabs.secrets == {}
    assert len(elevenlabs.writes()) == 2
    assert elevenlabs.writes(succeeded=True) == []


async def test_reads_are_not_writes(client: AsyncElevenLabs, elevenlabs: FakeElevenLabs) -> None:
    await client.conversational_ai.secrets.create(name="a", value="b")
    assert [(c.method, c.path) for c in elevenlabs.writes()] == [("POST", "/v1/convai/secrets")]
    elevenlabs.requests.clear()
    elevenlabs.responses.clear()
    await client.conversational_ai.secrets.list()
    await client.conversational_ai.tools.list()
    await client.conversational_ai.agents.list()
    await client.webhooks.list()
    await client.conversational_ai.settings.get()
    await client.conversational_ai.phone_numbers.list()
    assert elevenlabs.writes() == []
    assert len(elevenlabs.requests) == 6


async def test_sync_client_in_a_thread(elevenlabs: FakeElevenLabs) -> None:
    sync = ElevenLabs(api_key=elevenlabs.api_key, base_url=elevenlabs.url)
    created = await asyncio.to_thread(sync.conversational_ai.secrets.create, name="s", value="v")
    assert created.secret_id in elevenlabs.secrets


async def test_unknown_route_is_a_json_404(elevenlabs: FakeElevenLabs) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{elevenlabs.url}/v1/nothing", headers={"xi-api-key": elevenlabs.api_key})
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
