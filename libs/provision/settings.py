"""Settings of `ignis provision`, `ignis doctor` and `ignis demo-call`: the gateway's own (its secrets),
the notifier's (sipgate), and what only set-up needs: the ElevenLabs key, the public URL, the SIP trunk."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from ignis.gateway.settings import GatewaySettings
from ignis.notifier.settings import NotifierSettings


class ProvisionSettings(GatewaySettings, NotifierSettings):
    # Where ElevenLabs reaches this gateway, e.g. https://ignis.praxis-weber.de (HTTPS, public).
    public_url: str | None = None
    # The prompt, first message and tool descriptions (default: those in ignis/provision/agent_texts).
    agent_dir: Path | None = None
    tool_timeout_seconds: int = Field(default=10, ge=5, le=120)
    tts_model: str = "eleven_flash_v2_5"  # multilingual: an English-only model refuses a German agent
    voice_id: str | None = None
    llm: str | None = None  # None: the workspace default
    # The practice's number as the SIP INVITE names it, exactly (with or without +, as sipgate or the
    # bridge sends it); default: the practice's phone number in E.164.
    sip_number: str | None = None
    sip_username: str | None = None  # digest credentials ElevenLabs asks of incoming calls
    sip_password: SecretStr | None = None
    sip_media_encryption: Literal["disabled", "allowed", "required"] = "allowed"
    # Where ElevenLabs sends outgoing SIP (transfers that are no SIP REFER, outgoing calls): sipgate
    # trunking, with the practice's sipgate SIP credentials (the ones the SIP bridge registers with).
    # sipgate trunking is documented (by third parties) on UDP/TCP 5060, not TLS; ElevenLabs' UDP is
    # experimental, so TCP.
    sip_outbound_address: str = "sipconnect.sipgate.de"
    sip_outbound_transport: Literal["auto", "udp", "tcp", "tls"] = "tcp"
    sip_registrar_username: str | None = None
    sip_registrar_password: SecretStr | None = None
    # The folder deploy/sip-bridge/render.py wrote, when calls come through the SIP bridge on this host:
    # `ignis doctor` then reports whether it is registered at sipgate.
    sip_bridge_dir: Path | None = None
    # ElevenLabs' SIP edge, checked by `ignis doctor`.
    elevenlabs_sip_host: str = "sip.rtc.elevenlabs.io"
    elevenlabs_sip_tcp_port: int = 5060
    elevenlabs_sip_tls_port: int = 5061
