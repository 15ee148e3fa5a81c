"""Settings of the patients service."""

from ignis.kit.settings import Settings


class PatientsSettings(Settings):
    # A verified caller's ref lives for the call; two hours covers the longest call with margin.
    ref_ttl_minutes: int = 120
    max_identify_attempts: int = 3
    # How long call records (transcripts are health data) are kept before they are purged.
    call_retention_days: int = 90
