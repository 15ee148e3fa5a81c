"""The system page (admins): identification lock-outs to lift, dead letters to replay, and `ignis doctor`'s
checks run from the browser."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Literal, Protocol

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from ignis.kit import dead_letters
from ignis.staff_app.backend import BackendError
from ignis.staff_app.pages.page import Admin, AdminChanging, audit, backend, error_page, render, see_other

router = APIRouter()


class SystemCheck(Protocol):
    """One of `ignis doctor`'s checks (`ignis.provision.doctor.Check`) as the system page shows it."""

    @property
    def name(self) -> str: ...
    @property
    def outcome(self) -> str: ...  # pass, fail or skip
    @property
    def detail(self) -> str: ...
    @property
    def fix(self) -> str: ...


SystemChecks = Callable[[], Awaitable[Sequence[SystemCheck]]]
# The doctor probes ElevenLabs, sipgate and the SIP edge (5 s each at most, in parallel where it can).
SYSTEM_CHECKS_SECONDS = 60.0
CHECK_OUTCOMES = {"pass": "in Ordnung", "fail": "Fehler", "skip": "übersprungen"}


@router.get("/system", response_class=HTMLResponse)
async def system(request: Request, _staff: Admin) -> Response:
    settings = request.app.state.settings
    try:
        locks = await backend(request).identity_locks()
    except BackendError as exc:
        return error_page(request, exc)
    letters = await dead_letters.dead_letters(settings.nats, limit=200)
    return render(request, "system.html", locks=locks.items, letters=letters)


@router.get("/system/pruefung", response_class=HTMLResponse)
async def system_checks(request: Request, staff: Admin) -> Response:
    """`ignis doctor` from the browser: each check with its outcome, what it saw and the fix. Run on request
    only (it takes seconds and asks ElevenLabs and sipgate)."""
    run: SystemChecks | None = request.app.state.system_checks
    if run is None:
        return render(request, "error.html", status=404, message="Die Prüfung ist hier nicht eingerichtet.")
    try:
        checks = await asyncio.wait_for(run(), SYSTEM_CHECKS_SECONDS)
    except TimeoutError:
        return render(request, "error.html", status=504, message="Die Prüfung hat zu lange gedauert.")
    await audit(request, staff, "systemprüfung")
    failed = sum(1 for c in checks if c.outcome == "fail")
    return render(request, "checks.html", checks=checks, failed=failed, outcomes=CHECK_OUTCOMES)


@router.post("/system/entsperren")
async def unlock(
    request: Request,
    staff: AdminChanging,
    scope: Annotated[Literal["caller", "name"], Form()],
    key: Annotated[str, Form(max_length=64)],
) -> Response:
    try:
        await backend(request).unlock(scope, key)
    except BackendError as exc:
        return error_page(request, exc)
    await audit(request, staff, f"identifizierung entsperrt ({scope})")
    return see_other(request, "/system")


@router.post("/system/dead-letters/{sequence}/erneut")
async def replay(request: Request, sequence: int, staff: AdminChanging) -> Response:
    done = await dead_letters.replay(request.app.state.settings.nats, [sequence])
    await audit(request, staff, "dead letter erneut zugestellt", target=str(sequence) if done else None)
    return see_other(request, "/system")
