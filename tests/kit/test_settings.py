"""Settings: secrets are refused empty in prod and generated once in dev."""

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from ignis.gateway.settings import GatewaySettings
from ignis.kit.settings import Settings
from ignis.provision.settings import ProvisionSettings


class TestSecrets:
    def test_settings_of_several_processes_resolve_every_secret(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Provision combines the gateway's and the notifier's settings: the notifier's data key is generated
        and kept like the gateway's secrets (it was refused as empty, so provision and doctor never ran)."""
        monkeypatch.delenv("IGNIS_DATA_KEYS", raising=False)
        first = ProvisionSettings(home=tmp_path)
        again = ProvisionSettings(home=tmp_path)
        assert first.data_keys.get_secret_value()
        assert again.data_keys == first.data_keys
        assert again.tool_secret == first.tool_secret

    def test_prod_refuses_an_empty_secret(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("IGNIS_TOOL_SECRET", raising=False)
        with pytest.raises(ValidationError, match="IGNIS_TOOL_SECRET must be set"):
            GatewaySettings(env="prod", home=tmp_path)

    def test_prod_refuses_a_placeholder(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError, match="IGNIS_TOOL_SECRET"):
            GatewaySettings(
                env="prod",
                home=tmp_path,
                tool_secret=SecretStr("changethis"),
                elevenlabs_webhook_secret=SecretStr("a-real-one"),
                staff_token=SecretStr("another-real-one"),
            )

    def test_refusal_does_not_echo_the_other_secrets(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("IGNIS_STAFF_TOKEN", "real-staff-token-41")
        monkeypatch.delenv("IGNIS_TOOL_SECRET", raising=False)
        with pytest.raises(ValidationError) as info:
            GatewaySettings(env="prod", home=tmp_path)
        assert "real-staff-token-41" not in str(info.value)
        assert "input_value" not in str(
            info.value
        )  # pydantic may shorten it, hiding a leak from the line above

    def test_prod_accepts_real_secrets(self, tmp_path: Path) -> None:
        secrets = {name: SecretStr(f"{name}-x9") for name in GatewaySettings.secret_fields}
        settings = GatewaySettings(env="prod", home=tmp_path, **secrets)
        assert settings.tool_secret.get_secret_value() == "tool_secret-x9"
        assert not (tmp_path / "secrets.json").exists()

    def test_dev_generates_each_secret_once_and_keeps_it_private(self, tmp_path: Path) -> None:
        first = GatewaySettings(home=tmp_path)
        second = GatewaySettings(home=tmp_path)
        assert len(first.tool_secret.get_secret_value()) >= 24
        assert first.tool_secret == second.tool_secret
        assert first.tool_secret != first.staff_token
        assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600

    def test_environment_wins(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("IGNIS_TOOL_SECRET", "from-env")
        assert GatewaySettings(home=tmp_path).tool_secret.get_secret_value() == "from-env"

    def test_secret_is_not_in_repr(self, tmp_path: Path) -> None:
        settings = GatewaySettings(home=tmp_path, tool_secret=SecretStr("s3cr3t-value"))
        assert "s3cr3t-value" not in repr(settings)


class TestUrls:
    def test_plain_postgres_url_gets_the_async_driver(self) -> None:
        assert (
            Settings(database_url="postgresql://u:p@db:5432/ignis").database
            == "postgresql+asyncpg://u:p@db:5432/ignis"
        )

    def test_loopback_defaults(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("IGNIS_NATS_URL", raising=False)
        assert Settings().nats == "nats://127.0.0.1:4222"
