"""`ignis provision` against the local ElevenLabs fake, through the real SDK: everything created on the
first run, nothing on the second, only what changed on a later one, and clear errors without secrets."""

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from typer.testing import CliRunner

from ignis.cli.main import app
from ignis.contracts.tools import TOOL_BODIES
from ignis.gateway.settings import GatewaySettings
from ignis.kit.embedded import free_port
from ignis.practice.config import DEMO_PRACTICE, PracticeConfigError, load_practice
from ignis.provision.agent import AGENT_DIR, AgentTextError, render_texts
from ignis.provision.settings import ProvisionSettings
from ignis.provision.workspace import Change, ProvisionError, Workspace, connect
from tests.fakes.elevenlabs import FakeElevenLabs

PUBLIC = "https://ignis.praxis-weber.example"
TOOL_SECRET = "tool-secret-0123456789abcdef"
SIP_PASSWORD = "sip-password-0123456789"


@pytest.fixture
def practice_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "practice.yaml"
    path.write_text(DEMO_PRACTICE.read_text(encoding="utf-8"), encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path: Path, elevenlabs: FakeElevenLabs, practice_yaml: Path) -> ProvisionSettings:
    return ProvisionSettings(
        home=tmp_path / "home",
        practice_file=practice_yaml,
        elevenlabs_api_key=SecretStr(elevenlabs.api_key),
        elevenlabs_api_url=elevenlabs.url,
        public_url=PUBLIC,
        tool_secret=SecretStr(TOOL_SECRET),
        sip_username="praxis-weber",
        sip_password=SecretStr(SIP_PASSWORD),
    )


async def provision(settings: ProvisionSettings, dry_run: bool = False) -> list[Change]:
    """One run, as the CLI does it (the SDK is synchronous: in a thread, beside the fake's server)."""
    practice = load_practice(settings.practice_file)
    texts = render_texts(practice)

    def run() -> list[Change]:
        with connect(settings) as client:
            workspace = Workspace(
                client, settings, practice, texts, dry_run=dry_run, report=lambda _: None, max_retries=0
            )
            return workspace.run()

    return await asyncio.to_thread(run)


def only(items: dict[str, dict[str, Any]]) -> dict[str, Any]:
    assert len(items) == 1, items
    return next(iter(items.values()))


def actions(changes: list[Change]) -> dict[str, str]:
    return {change.resource: change.action for change in changes}


class TestFirstRun:
    async def test_creates_everything_wired_together(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs
    ) -> None:
        changes = await provision(settings)
        assert {c.resource: c.action for c in changes if c.action != "create"} == {
            "workspace settings": "update"
        }

        secret = only(elevenlabs.secrets)
        assert secret["value"] == TOOL_SECRET
        tools = {t["tool_config"]["name"]: t for t in elevenlabs.tools.values()}
        assert set(tools) == set(TOOL_BODIES)
        for name, tool in tools.items():
            config = tool["tool_config"]
            schema = config["api_schema"]
            assert schema["url"] == f"{PUBLIC}/tools/{name}"
            assert schema["method"] == "POST"
            assert schema["request_headers"] == {"X-Ignis-Tool-Secret": {"secret_id": secret["secret_id"]}}
            assert config["tool_error_handling_mode"] == "summarized"
            assert config["response_timeout_secs"] == 10
            properties = schema["request_body_schema"]["properties"]
            assert properties["conversation_id"] == {
                "type": "string",
                "dynamic_variable": "system__conversation_id",
            }
        assert tools["identify_patient"]["tool_config"]["api_schema"]["request_body_schema"]["properties"][
            "caller_id"
        ] == {"type": "string", "dynamic_variable": "system__caller_id"}
        assert "Akutsprechstunde" in tools["find_slots"]["tool_config"]["description"]

        agent = only(elevenlabs.agents)
        config = agent["conversation_config"]["agent"]
        assert config["language"] == "de"
        assert agent["conversation_config"]["tts"]["model_id"] == "eleven_flash_v2_5"
        assert config["prompt"]["timezone"] == "Europe/Berlin"
        assert sorted(config["prompt"]["tool_ids"]) == sorted(t["id"] for t in tools.values())
        assert "tools" not in config["prompt"]
        assert "KI-Telefonassistent" in config["first_message"]
        assert config["first_message"].startswith("Hausarztpraxis Dr. Weber")
        built_in = config["prompt"]["built_in_tools"]
        assert set(built_in) >= {"end_call", "transfer_to_number"}
        # The demo practice's routing: the reception while open, the mobile for urgent cases at lunch.
        reception, mobile = built_in["transfer_to_number"]["params"]["transfers"]
        assert reception["transfer_destination"] == {"type": "phone", "phone_number": "+49301234568"}
        assert "„geöffnet“" in reception["condition"]
        assert mobile["transfer_destination"] == {"type": "phone", "phone_number": "+491701234569"}
        assert "„Mittagspause“" in mobile["condition"]
        assert "dringend" in mobile["condition"]
        assert "{{practice_state}}" in config["prompt"]["prompt"]
        assert agent["platform_settings"]["overrides"][
            "enable_conversation_initiation_client_data_from_webhook"
        ]
        # GDPR at ElevenLabs: no audio, the conversation kept no longer than Ignis keeps the call record.
        assert agent["platform_settings"]["privacy"] == {
            "retention_days": 90,
            "record_voice": False,
            "delete_audio": True,
        }

        webhook = only(elevenlabs.webhooks)
        assert webhook["webhook_url"] == f"{PUBLIC}/webhooks/elevenlabs/post-call"
        workspace = elevenlabs.settings
        assert workspace["webhooks"]["post_call_webhook_id"] == webhook["webhook_id"]
        assert workspace["conversation_initiation_client_data_webhook"] == {
            "url": f"{PUBLIC}/webhooks/elevenlabs/conversation-init",
            "request_headers": {"X-Ignis-Tool-Secret": {"secret_id": secret["secret_id"]}},
        }

        number = only(elevenlabs.phone_numbers)
        assert number["provider"] == "sip_trunk"
        assert number["phone_number"] == "+49301234567"
        assert number["agent_id"] == agent["agent_id"]
        assert number["outbound_trunk_config"]["transport"] == "tcp"  # sipgate: UDP/TCP 5060, no TLS
        assert number["inbound_trunk_config"]["credentials"] == {
            "username": "praxis-weber",
            "password": SIP_PASSWORD,
        }

        # The gateway verifies post-call webhooks with the secret ElevenLabs returned.
        gateway = GatewaySettings(home=settings.home, _env_file=None)
        assert gateway.elevenlabs_webhook_secret.get_secret_value() == webhook["webhook_secret"]

    async def test_dry_run_changes_nothing(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs
    ) -> None:
        changes = await provision(settings, dry_run=True)
        assert {c.action for c in changes} == {"create", "update"}
        assert elevenlabs.writes() == []


class TestSecondRun:
    async def test_changes_nothing(self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs) -> None:
        await provision(settings)
        written = len(elevenlabs.writes())
        changes = await provision(settings)
        assert {c.action for c in changes} == {"unchanged"}, [
            str(c) for c in changes if c.action != "unchanged"
        ]
        assert len(elevenlabs.writes()) == written

    async def test_a_changed_visit_type_updates_only_that_tool(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs, practice_yaml: Path
    ) -> None:
        await provision(settings)
        practice = yaml.safe_load(practice_yaml.read_text(encoding="utf-8"))  # noqa: ASYNC240
        practice["visit_types"][0]["name"] = "Infektsprechstunde"
        practice_yaml.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")  # noqa: ASYNC240
        before = len(elevenlabs.writes())

        changes = await provision(settings)
        # The tool's description and the prompt (which lists each visit type with its rules) name it.
        assert {r: a for r, a in actions(changes).items() if a != "unchanged"} == {
            "tool find_slots": "update",
            'agent "Ignis - Hausarztpraxis Dr. Weber"': "update",
        }
        [write, agent] = elevenlabs.writes()[before:]
        assert write.method == "PATCH"
        assert write.path.startswith("/v1/convai/tools/")
        assert "Infektsprechstunde" in write.body["tool_config"]["description"]
        assert "Infektsprechstunde" in agent.body["conversation_config"]["agent"]["prompt"]["prompt"]

    async def test_a_new_tool_secret_updates_the_secret_in_place(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs
    ) -> None:
        await provision(settings)
        secret_id = only(elevenlabs.secrets)["secret_id"]
        changes = await provision(settings.model_copy(update={"tool_secret": SecretStr("a-new-secret-456")}))
        assert {r: a for r, a in actions(changes).items() if a != "unchanged"} == {
            "secret (tool secret)": "update"
        }
        assert only(elevenlabs.secrets)["secret_id"] == secret_id
        assert only(elevenlabs.secrets)["value"] == "a-new-secret-456"

    async def test_a_new_public_url_moves_tools_and_replaces_the_post_call_webhook(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs
    ) -> None:
        await provision(settings)
        moved = settings.model_copy(update={"public_url": "https://new.praxis-weber.example"})
        changes = await provision(moved)
        assert actions(changes)["post-call webhook"] == "replace"
        assert actions(changes)["tool identify_patient"] == "update"
        webhook = only(elevenlabs.webhooks)
        assert webhook["webhook_url"] == "https://new.praxis-weber.example/webhooks/elevenlabs/post-call"
        gateway = GatewaySettings(home=settings.home, _env_file=None)
        assert gateway.elevenlabs_webhook_secret.get_secret_value() == webhook["webhook_secret"]
        assert {c.action for c in await provision(moved)} == {"unchanged"}

    async def test_a_new_sip_password_is_sent_once(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs
    ) -> None:
        await provision(settings)
        changed = settings.model_copy(update={"sip_password": SecretStr("another-password-789")})
        changes = await provision(changed)
        assert {r: a for r, a in actions(changes).items() if a != "unchanged"} == {
            "phone number +49301234567": "update"
        }
        assert {c.action for c in await provision(changed)} == {"unchanged"}


class TestVendorRules:
    """Issue 14: what the real ElevenLabs does that our first fake did not."""

    async def test_a_lost_secrets_file_replaces_the_webhook_without_breaking_it(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs
    ) -> None:
        await provision(settings)
        (settings.home / "secrets.json").unlink()
        changes = await provision(settings)  # ElevenLabs refuses to delete the webhook still in use
        assert actions(changes)["post-call webhook"] == "replace"
        webhook = only(elevenlabs.webhooks)  # the old one deleted once nothing used it
        assert elevenlabs.settings["webhooks"]["post_call_webhook_id"] == webhook["webhook_id"]
        gateway = GatewaySettings(home=settings.home, _env_file=None)
        assert gateway.elevenlabs_webhook_secret.get_secret_value() == webhook["webhook_secret"]
        assert {c.action for c in await provision(settings)} == {"unchanged"}
        assert len(elevenlabs.webhooks) == 1

    async def test_webhook_retries_are_on_and_an_auto_disabled_webhook_is_enabled_again(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs
    ) -> None:
        await provision(settings)
        webhook = only(elevenlabs.webhooks)
        assert webhook["retry_enabled"] is True
        assert webhook["is_disabled"] is False
        for _ in range(10):
            elevenlabs.deliver(webhook["webhook_id"], 503)
        assert webhook["is_auto_disabled"] is True
        changes = await provision(settings)
        assert actions(changes)["post-call webhook"] == "update"
        assert (webhook["is_auto_disabled"], webhook["retry_enabled"]) == (False, True)

    async def test_a_new_label_keeps_inbound_digest_authentication(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs, practice_yaml: Path
    ) -> None:
        await provision(settings)
        practice = yaml.safe_load(practice_yaml.read_text(encoding="utf-8"))  # noqa: ASYNC240
        practice["name"] = "Praxis am Markt"
        practice_yaml.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")  # noqa: ASYNC240
        changes = await provision(settings)
        assert actions(changes)["phone number +49301234567"] == "update"
        number = only(elevenlabs.phone_numbers)
        assert number["label"] == "Praxis am Markt (Ignis)"
        assert number["inbound_trunk_config"]["credentials"] == {
            "username": "praxis-weber",
            "password": SIP_PASSWORD,
        }
        [update] = [c for c in elevenlabs.writes() if c.path.startswith("/v1/convai/phone-numbers/")]
        assert "password" not in update.body["inbound_trunk_config"]["credentials"]  # unchanged: not sent

    async def test_the_outbound_trunk_uses_the_sipgate_credentials(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs
    ) -> None:
        sipgate = settings.model_copy(
            update={"sip_registrar_username": "1234567t0", "sip_registrar_password": SecretStr("sipgate-pw")}
        )
        await provision(sipgate)
        number = only(elevenlabs.phone_numbers)
        outbound = number["outbound_trunk_config"]
        assert outbound["credentials"] == {"username": "1234567t0", "password": "sipgate-pw"}
        assert (outbound["address"], outbound["transport"]) == ("sipconnect.sipgate.de", "tcp")
        assert number["inbound_trunk_config"]["credentials"]["username"] == "praxis-weber"
        assert {c.action for c in await provision(sipgate)} == {"unchanged"}


class TestPracticeRules:
    def test_the_prompt_names_each_visit_types_rules(self, practice_yaml: Path) -> None:
        practice = yaml.safe_load(practice_yaml.read_text(encoding="utf-8"))
        practice["rules"] = {"new_patients": False}
        practice["visit_types"][2]["rules"] = {"insurance": ["privat", "selbstzahler"], "referral": True}
        practice_yaml.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")
        prompt = render_texts(load_practice(practice_yaml)).prompt
        assert "(insgesamt: keine neuen Patienten)" in prompt
        assert "Vorsorgeuntersuchung (30 Minuten: keine neuen Patienten, ab 35 Jahren)" in prompt
        assert (
            "Blutabnahme (5 Minuten: keine neuen Patienten, nur privat Versicherte und Selbstzahler, "
            "nur mit Überweisung)"
        ) in prompt
        assert "`not_offered`" in prompt


class TestLanguages:
    async def test_language_detection_with_a_first_message_per_language(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs
    ) -> None:
        await provision(settings)
        config = only(elevenlabs.agents)["conversation_config"]
        assert config["agent"]["language"] == "de"
        presets = config["language_presets"]
        assert list(presets) == ["en", "tr", "ar", "ru", "pl", "uk"]  # the default
        first = {code: preset["overrides"]["agent"]["first_message"] for code, preset in presets.items()}
        assert first["en"].startswith("Hausarztpraxis Dr. Weber, hello!")
        assert "merhaba" in first["tr"]
        assert "مرحباً" in first["ar"]
        assert "здравствуйте" in first["ru"]
        assert "dzień dobry" in first["pl"]
        assert "добрий день" in first["uk"]
        built_in = config["agent"]["prompt"]["built_in_tools"]
        assert built_in["language_detection"]["params"] == {"system_tool_type": "language_detection"}
        assert (
            "Englisch, Türkisch, Arabisch, Russisch, Polnisch, Ukrainisch"
            in config["agent"]["prompt"]["prompt"]
        )
        assert {c.action for c in await provision(settings)} == {"unchanged"}

    async def test_the_practice_chooses_its_languages(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs, practice_yaml: Path
    ) -> None:
        practice = yaml.safe_load(practice_yaml.read_text(encoding="utf-8"))  # noqa: ASYNC240
        practice["languages"] = ["en"]
        practice_yaml.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")  # noqa: ASYNC240
        await provision(settings)
        assert list(only(elevenlabs.agents)["conversation_config"]["language_presets"]) == ["en"]
        practice["languages"] = []
        practice_yaml.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")  # noqa: ASYNC240
        elevenlabs.reset()
        await provision(settings)
        config = only(elevenlabs.agents)["conversation_config"]
        assert not config.get("language_presets")
        assert not config["agent"]["prompt"]["built_in_tools"].get("language_detection")

    def test_a_language_without_its_text_names_the_file(self, practice_yaml: Path, tmp_path: Path) -> None:
        texts = tmp_path / "texts"
        shutil.copytree(AGENT_DIR, texts)
        (texts / "first_message.tr.txt").unlink()
        with pytest.raises(AgentTextError, match=r"first_message\.tr\.txt"):
            render_texts(load_practice(practice_yaml), texts)

    def test_an_unknown_language_names_the_key(self, practice_yaml: Path) -> None:
        practice = yaml.safe_load(practice_yaml.read_text(encoding="utf-8"))
        practice["languages"] = ["en", "klingon"]
        practice_yaml.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")
        with pytest.raises(PracticeConfigError, match=r"languages\.1"):
            load_practice(practice_yaml)


class TestRouting:
    async def test_targets_by_the_practices_state(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs, practice_yaml: Path
    ) -> None:
        practice = yaml.safe_load(practice_yaml.read_text(encoding="utf-8"))  # noqa: ASYNC240
        practice["routing"] = {
            "open": [{"phone": "030 1234568"}],
            "lunch_break": [{"phone": "0170 1234569", "urgent_only": True}],
            "closed": [{"phone": "0170 1234569", "urgent_only": True}],
            "vacation": [{"phone": "030 7654321"}],
        }
        practice_yaml.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")  # noqa: ASYNC240
        await provision(settings)
        prompt = only(elevenlabs.agents)["conversation_config"]["agent"]["prompt"]
        rules = {
            t["transfer_destination"]["phone_number"]: t["condition"]
            for t in prompt["built_in_tools"]["transfer_to_number"]["params"]["transfers"]
        }
        assert set(rules) == {"+49301234568", "+491701234569", "+49307654321"}
        assert "„Mittagspause“ oder „geschlossen“ und das Anliegen ist dringend" in rules["+491701234569"]
        assert "„Betriebsferien“" in rules["+49307654321"]

    async def test_no_target_no_transfer_tool(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs, practice_yaml: Path
    ) -> None:
        practice = yaml.safe_load(practice_yaml.read_text(encoding="utf-8"))  # noqa: ASYNC240
        del practice["routing"]
        practice_yaml.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")  # noqa: ASYNC240
        await provision(settings)
        built_in = only(elevenlabs.agents)["conversation_config"]["agent"]["prompt"]["built_in_tools"]
        assert "transfer_to_number" not in built_in or built_in["transfer_to_number"] is None

    @pytest.mark.parametrize(
        ("routing", "named"),
        [
            ({"open": [{"phone": "keine Nummer"}]}, "routing.open.0.phone"),
            ({"closed": [{"phone": "+49 30 1234567"}]}, "loop back"),  # the number the agent answers
            ({"weekend": []}, "routing.weekend"),
        ],
    )
    def test_a_broken_target_names_its_key(
        self, practice_yaml: Path, routing: dict[str, object], named: str
    ) -> None:
        practice = yaml.safe_load(practice_yaml.read_text(encoding="utf-8"))
        practice["routing"] = routing
        practice_yaml.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")
        with pytest.raises(PracticeConfigError) as raised:
            load_practice(practice_yaml)
        assert named in str(raised.value)


class TestPrivacy:
    async def test_the_practice_file_sets_what_elevenlabs_keeps(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs, practice_yaml: Path
    ) -> None:
        practice = yaml.safe_load(practice_yaml.read_text(encoding="utf-8"))  # noqa: ASYNC240
        practice["privacy"] = {"retention_days": 30, "record_audio": True, "keep_audio": True}
        practice_yaml.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")  # noqa: ASYNC240
        await provision(settings)
        assert only(elevenlabs.agents)["platform_settings"]["privacy"] == {
            "retention_days": 30,
            "record_voice": True,
            "delete_audio": False,
        }
        shorter = settings.model_copy(update={"call_retention_days": 14})  # never longer than Ignis keeps it
        changes = await provision(shorter)
        assert [c.action for c in changes if c.resource.startswith("agent ")] == ["update"]
        assert only(elevenlabs.agents)["platform_settings"]["privacy"]["retention_days"] == 14


class TestErrors:
    async def test_public_url_must_be_https(self, settings: ProvisionSettings) -> None:
        with pytest.raises(ProvisionError, match="HTTPS"):
            await provision(settings.model_copy(update={"public_url": "http://ignis.example"}))

    @pytest.mark.parametrize(
        ("status", "says"),
        [
            (401, "refused the API key (401): check IGNIS_ELEVENLABS_API_KEY"),
            (422, "refused it (422)"),
            (429, "rate limit (429)"),
            (500, "failed (500): run again later"),
        ],
    )
    async def test_api_errors_are_clear(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs, status: int, says: str
    ) -> None:
        elevenlabs.fail_next(status)
        with pytest.raises(ProvisionError) as raised:
            await provision(settings)
        assert says in str(raised.value)
        assert TOOL_SECRET not in str(raised.value)
        assert SIP_PASSWORD not in str(raised.value)


class TestCommand:
    def env(self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs) -> dict[str, str]:
        return {
            "IGNIS_HOME": str(settings.home),
            "IGNIS_PRACTICE_FILE": str(settings.practice_file),
            "IGNIS_ELEVENLABS_API_KEY": elevenlabs.api_key,
            "IGNIS_ELEVENLABS_API_URL": elevenlabs.url,
            "IGNIS_TOOL_SECRET": TOOL_SECRET,
            "IGNIS_SIP_USERNAME": "praxis-weber",
            "IGNIS_SIP_PASSWORD": SIP_PASSWORD,
            "IGNIS_ELEVENLABS_WEBHOOK_SECRET": "",
        }

    async def test_plan_apply_and_nothing_left(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs
    ) -> None:
        runner = CliRunner()
        env = self.env(settings, elevenlabs)
        plan = await asyncio.to_thread(
            runner.invoke, app, ["provision", "--public-url", PUBLIC, "--dry-run"], env=env
        )
        assert plan.exit_code == 0, plan.output
        assert "+ tool find_slots: create" in plan.output
        assert "planned; run without --dry-run" in plan.output
        assert elevenlabs.writes() == []

        applied = await asyncio.to_thread(runner.invoke, app, ["provision", "--public-url", PUBLIC], env=env)
        assert applied.exit_code == 0, applied.output
        assert "Done:" in applied.output
        again = await asyncio.to_thread(runner.invoke, app, ["provision", "--public-url", PUBLIC], env=env)
        assert "Nothing to change" in again.output
        secrets = [TOOL_SECRET, SIP_PASSWORD, only(elevenlabs.webhooks)["webhook_secret"], elevenlabs.api_key]
        for output in (plan.output, applied.output, again.output):
            assert not [s for s in secrets if s in output]
        stored = json.loads((settings.home / "secrets.json").read_text())
        assert stored["elevenlabs_webhook_secret"] == only(elevenlabs.webhooks)["webhook_secret"]

    async def test_missing_api_key(self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs) -> None:
        env = self.env(settings, elevenlabs) | {"IGNIS_ELEVENLABS_API_KEY": ""}
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["provision", "--public-url", PUBLIC], env=env
        )
        assert result.exit_code == 2
        assert "IGNIS_ELEVENLABS_API_KEY is not set" in result.output

    async def test_unreachable_elevenlabs_is_one_line_with_the_fix(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs
    ) -> None:
        closed = f"http://127.0.0.1:{free_port()}"
        env = self.env(settings, elevenlabs) | {"IGNIS_ELEVENLABS_API_URL": closed}
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["provision", "--public-url", PUBLIC], env=env
        )
        assert result.exit_code == 1, result.output
        assert "ElevenLabs not reachable (ConnectError)" in result.output
        assert "IGNIS_ELEVENLABS_API_URL" in result.output
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 2  # what it does, and why it could not

    async def test_wrong_api_key_exits_1_with_the_fix(
        self, settings: ProvisionSettings, elevenlabs: FakeElevenLabs
    ) -> None:
        env = self.env(settings, elevenlabs) | {"IGNIS_ELEVENLABS_API_KEY": "sk_wrong"}
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["provision", "--public-url", PUBLIC], env=env
        )
        assert result.exit_code == 1
        assert "refused the API key (401)" in result.output
        assert elevenlabs.writes() == []
