"""Settings of the patients service."""

from pydantic import Field

from ignis.fhir.settings import FhirSettings
from ignis.kit.settings import DataSettings


class PatientsSettings(DataSettings, FhirSettings):
    # IGNIS_RECORDS=fhir: the patients are on the practice's FHIR server (FhirSettings, README "FHIR"); each
    # process keeps them by birth date in memory, asking the server this often for what changed.
    fhir_index_seconds: float = Field(default=2.0, gt=0)
    # A verified caller's ref lives for the call; two hours covers the longest call with margin.
    ref_ttl_minutes: int = 120
    # Identification budgets (README "Security and privacy"): failed identifications allowed per
    # conversation, per caller number and per last name (all callers together) within the window; new
    # registrations count like failures, and one conversation registers at most `max_registrations`.
    max_identify_attempts: int = Field(default=3, ge=1)
    max_caller_failures: int = Field(default=5, ge=1)
    max_name_failures: int = Field(default=10, ge=1)
    max_registrations: int = Field(default=2, ge=1)  # a parent may register two children
    budget_window_hours: int = Field(default=24, ge=1)
    # `call_retention_days` (how long call records are kept) is a setting of every process: it bounds
    # the retention of the streams, which all of them declare (kit.settings).
    # ElevenLabs, for what the post-call webhook cannot guarantee: the reconciliation fetches every recent
    # conversation of the agent that has no call record (a webhook that was down, auto-disabled or refused),
    # and erasure and retention delete the conversations there too. Both off without
    # IGNIS_ELEVENLABS_API_KEY (a setting of every process: kit.settings).
    elevenlabs_agent_id: str | None = None  # None: the agent `ignis provision` made (kept in IGNIS_HOME)
    reconcile_every_minutes: int = Field(default=15, ge=1)
    # How far back each periodic round looks: a webhook down for a day or a weekend is caught up.
    reconcile_lookback_hours: int = Field(default=72, ge=1)
