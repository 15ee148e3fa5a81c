"""Sign-in state of a browser: the session cookie, CSRF tokens, the signed-in account for each page.

Cookies are HttpOnly, SameSite=Strict, limited to the app's path, and Secure whenever the page came over
HTTPS. Every form carries a CSRF token: the session's own (synchronizer token) once signed in, and a
double-submit cookie on the sign-in form, where there is no session yet.
"""

import datetime as dt
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from ignis.staff_app import accounts
from ignis.staff_app.models import Account
from ignis.staff_app.repository import StaffRepository

SESSION_COOKIE = "praxis_sitzung"
PRE_SESSION_COOKIE = "praxis_vorab"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class NotSignedIn(Exception):
    """No live session: the page sends the browser to the sign-in form (htmx: by `HX-Redirect`)."""


class CsrfRefused(Exception):
    """A form without this session's CSRF token: refused with 403, nothing changed."""


class AdminOnly(Exception):
    """A page or action for admins."""


@dataclass(frozen=True)
class Staff:
    account: Account
    csrf: str

    @property
    def admin(self) -> bool:
        return self.account.role == accounts.Role.admin


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def base_path(request: Request) -> str:
    """Where the app is mounted (`/praxis`), for links, cookies and redirects."""
    return str(request.scope.get("root_path", "")).rstrip("/")


@asynccontextmanager
async def unit_of_work(request: Request) -> AsyncIterator[StaffRepository]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    async with request.app.state.sessionmaker() as session, session.begin():
        yield StaffRepository(session)


async def signed_in(request: Request) -> Staff:
    """The dependency of every page: the account of this browser's live session."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotSignedIn
    async with unit_of_work(request) as repo:
        found = await accounts.current_session(repo, token, utcnow(), request.app.state.policy)
    if found is None:
        raise NotSignedIn
    session, account = found
    staff = Staff(account, session.csrf_token)
    request.state.staff = staff
    return staff


async def admin(request: Request) -> Staff:
    staff = await signed_in(request)
    if not staff.admin:
        raise AdminOnly
    return staff


async def csrf_checked(request: Request) -> Staff:
    """The dependency of every change: signed in, and the form (or htmx's header) carries the token."""
    staff = await signed_in(request)
    given = request.headers.get(CSRF_HEADER) or str((await request.form()).get(CSRF_FIELD, ""))
    if not secrets.compare_digest(given.encode(), staff.csrf.encode()):
        raise CsrfRefused
    return staff


def secure(request: Request) -> bool:
    """Whether the browser reached the app over HTTPS (directly, or by the configured public URL)."""
    public_url = request.app.state.settings.public_url or ""
    return request.url.scheme == "https" or public_url.startswith("https://")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=base_path(request) or "/",
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name,
        path=base_path(request) or "/",
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )
