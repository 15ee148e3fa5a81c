"""Settings of the practice team's web app (`IGNIS_STAFF_*`)."""

from pydantic import Field

from ignis.kit.settings import Settings


class StaffAppSettings(Settings):
    # The gateway's public address (IGNIS_PUBLIC_URL, as for `ignis provision`): behind a TLS proxy whose
    # forwarded headers uvicorn does not trust, https here still makes the session cookie Secure.
    public_url: str | None = None
    # A session ends after this long without a request, and in any case this long after sign-in.
    staff_session_idle_minutes: int = Field(default=60, ge=1)
    staff_session_max_hours: int = Field(default=12, ge=1)
    # After this many wrong passwords in a row an account is locked for `staff_lockout_minutes`.
    staff_lockout_failures: int = Field(default=5, ge=1)
    staff_lockout_minutes: int = Field(default=15, ge=1)
    # How long a set-up link of `ignis staff add` is valid.
    staff_setup_hours: int = Field(default=72, ge=1)
    # How often the inbox asks for new requests (seconds).
    staff_poll_seconds: float = Field(default=3.0, gt=0)
    # Seconds the app waits for a service's reply before it says the service is unavailable.
    staff_timeout_seconds: float = Field(default=5.0, gt=0)
