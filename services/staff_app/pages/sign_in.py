"""Signing in and out, and setting up an account's password from its set-up link."""

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from ignis.staff_app import accounts
from ignis.staff_app.auth import (
    CSRF_FIELD,
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    clear_cookie,
    set_cookie,
    unit_of_work,
    utcnow,
)
from ignis.staff_app.pages.page import Changing, render, see_other

logger = logging.getLogger("ignis.staff_app")
router = APIRouter()


@router.get("/anmelden", response_class=HTMLResponse)
async def sign_in_form(request: Request) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "sign_in.html", pre_csrf=token)
    set_cookie(request, response, PRE_SESSION_COOKIE, token, max_age=3600)
    return response


@router.post("/anmelden", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    expected = request.cookies.get(PRE_SESSION_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf.encode(), expected.encode()):
        return render(request, "error.html", status=403, message="Sicherheitsprüfung fehlgeschlagen.")
    policy = request.app.state.policy
    refused: accounts.SignInRefused | None = None
    async with unit_of_work(request) as repo:  # a refusal commits too: it counts towards the lock-out
        try:
            account = await accounts.sign_in(repo, name.strip(), password, utcnow(), policy)
        except accounts.SignInRefused as exc:
            refused = exc
        else:
            token, _ = await accounts.open_session(repo, account, utcnow(), policy)
            await accounts.record(repo, account, "anmeldung", utcnow())
    if refused is not None:
        logger.info("staff sign-in refused", extra={"locked": refused.locked})
        message = (
            "Zu viele Fehlversuche: Das Konto ist vorübergehend gesperrt."
            if refused.locked
            else "Name oder Passwort falsch."
        )
        return render(request, "sign_in.html", status=401, pre_csrf=expected, message=message)
    response = see_other(request, "/")
    set_cookie(request, response, SESSION_COOKIE, token, max_age=int(policy.session_max.total_seconds()))
    clear_cookie(request, response, PRE_SESSION_COOKIE)
    return response


@router.post("/abmelden")
async def sign_out(request: Request, staff: Changing) -> Response:
    async with unit_of_work(request) as repo:
        await accounts.sign_out(repo, request.cookies.get(SESSION_COOKIE, ""))
        await accounts.record(repo, staff.account, "abmeldung", utcnow())
    response = see_other(request, "/anmelden")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


@router.get("/einrichten/{token}", response_class=HTMLResponse)
async def set_up_form(request: Request, token: str) -> Response:
    async with unit_of_work(request) as repo:
        account = await accounts.account_to_set_up(repo, token, utcnow())
    if account is None:
        return render(request, "error.html", status=404, message="Dieser Einrichtungslink ist ungültig.")
    response = render(request, "set_up.html", account_name=account.name, pre_csrf=token)
    return response


@router.post("/einrichten/{token}", response_class=HTMLResponse)
async def set_up(
    request: Request,
    token: str,
    password: Annotated[str, Form(max_length=1000)],
    repeated: Annotated[str, Form(max_length=1000)],
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    # The link's own token is the form's CSRF token: only who holds the link can post it.
    if not secrets.compare_digest(csrf.encode(), token.encode()):
        return render(request, "error.html", status=403, message="Sicherheitsprüfung fehlgeschlagen.")
    async with unit_of_work(request) as repo:
        account = await accounts.account_to_set_up(repo, token, utcnow())
        if account is None:
            return render(request, "error.html", status=404, message="Dieser Einrichtungslink ist ungültig.")
        problem = None
        if len(password) < accounts.MIN_PASSWORD_LENGTH:
            problem = f"Das Passwort braucht mindestens {accounts.MIN_PASSWORD_LENGTH} Zeichen."
        elif password != repeated:
            problem = "Die beiden Eingaben stimmen nicht überein."
        if problem is None:
            await accounts.set_password(repo, token, password, utcnow())
            await accounts.record(repo, account, "passwort gesetzt", utcnow())
    if problem:
        return render(
            request, "set_up.html", status=400, account_name=account.name, pre_csrf=token, message=problem
        )
    return see_other(request, "/anmelden")
