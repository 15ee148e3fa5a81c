"""Settings of the notifier service: which SMS provider, and sipgate's credentials; in FHIR record mode
(FhirSettings) the practice's server, where each SMS sent is recorded as a `Communication`."""

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from ignis.fhir.settings import FhirSettings
from ignis.kit.settings import DataSettings


class NotifierSettings(DataSettings, FhirSettings):
    # `log` (the default) sends nothing: it records and logs each SMS, without the number.
    sms_provider: Literal["log", "sipgate"] = "log"
    sipgate_api_url: str = "https://api.sipgate.com/v2"
    # A Personal Access Token with scope sessions:sms:write (sipgate app → Personal Access Token).
    sipgate_token_id: str | None = Field(default=None, pattern=r"^token-[A-Za-z0-9]{6}$")
    sipgate_token: SecretStr | None = None
    # The Web SMS extension that sends ("s0" unless the account has several).
    sipgate_sms_id: str = Field(default="s0", pattern=r"^s[0-9]+$")
    # The longest one SMS request may take; after it the outcome is unknown and it is not sent again.
    sms_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    @model_validator(mode="after")
    def _sipgate_needs_a_token(self) -> Self:
        if self.sms_provider == "sipgate" and not (self.sipgate_token_id and self.sipgate_token):
            raise ValueError(
                "IGNIS_SMS_PROVIDER=sipgate needs IGNIS_SIPGATE_TOKEN_ID and IGNIS_SIPGATE_TOKEN "
                "(a Personal Access Token with scope sessions:sms:write)"
            )
        return self
