"""Settings of the patients service."""

from ignis.kit.settings import DataSettings


class PatientsSettings(DataSettings):
    # A verified caller's ref lives for the call; two hours covers the longest call with margin.
    ref_ttl_minutes: int = 120
    max_identify_attempts: int = 3
    # `call_retention_days` (how long call records are kept) is a setting of every process: it bounds
    # the retention of the streams, which all of them declare (kit.settings).
