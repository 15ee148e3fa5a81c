"""Settings of the record mode: where a service that owns records keeps them, and how it reaches FHIR.

A mixin of `kit.settings.Settings` (like `DataSettings`): the services that own records (patients, scheduler)
and the notifier (it records each SMS sent there) inherit it, so `IGNIS_RECORDS` and the `IGNIS_FHIR_*`
variables mean the same in every process.
"""

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from ignis.kit.settings import Settings

RecordMode = Literal["ignis", "fhir"]
FhirAuth = Literal["none", "basic", "bearer", "oauth2"]


class FhirSettings(Settings):
    # `ignis`: patients and calendar in Ignis' own Postgres. `fhir`: the practice's FHIR R4 server (Aidbox,
    # Medplum, HAPI) is the source of truth; Ignis' Postgres keeps refs, budgets, call records, outbox, SMS.
    records: RecordMode = "ignis"
    # The FHIR base, e.g. https://fhir.example.de/fhir (Aidbox), https://api.medplum.com/fhir/R4 (Medplum).
    fhir_url: str | None = None
    # none; basic (Aidbox client id + secret); bearer (a fixed token in fhir_client_secret); oauth2 (client
    # credentials at fhir_token_url, as Medplum and SMART backend services do).
    fhir_auth: FhirAuth = "none"
    fhir_client_id: str | None = None
    fhir_client_secret: SecretStr | None = None
    fhir_token_url: str | None = None
    # One FHIR round trip; a tool call's whole budget is a few seconds, so a hanging server must fail fast.
    fhir_timeout_seconds: float = Field(default=3.0, gt=0)
    # Connections kept open to the FHIR server by one process (its pool).
    fhir_max_connections: int = Field(default=20, ge=1)

    @model_validator(mode="after")
    def _fhir_is_reachable(self) -> Self:
        if self.records != "fhir":
            return self
        missing = []
        if not self.fhir_url:
            missing.append("IGNIS_FHIR_URL")
        if self.fhir_auth in ("basic", "oauth2") and not self.fhir_client_id:
            missing.append("IGNIS_FHIR_CLIENT_ID")
        if self.fhir_auth != "none" and not (
            self.fhir_client_secret and self.fhir_client_secret.get_secret_value()
        ):
            missing.append("IGNIS_FHIR_CLIENT_SECRET")
        if self.fhir_auth == "oauth2" and not self.fhir_token_url:
            missing.append("IGNIS_FHIR_TOKEN_URL")
        if missing:
            raise ValueError(
                f"IGNIS_RECORDS=fhir with IGNIS_FHIR_AUTH={self.fhir_auth} needs {', '.join(missing)}"
            )
        return self
