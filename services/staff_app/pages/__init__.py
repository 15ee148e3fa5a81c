"""The pages of the practice team's app (German, server-rendered; htmx for live parts), one module per
screen, composed into one router here (FastAPI's APIRouter per module).

Every page asks the services over NATS (`ignis.staff_app.backend`); only accounts, sessions and the audit
trail are the app's own. Ids in URLs are opaque (request, call, message and patient ids); no name, number or
date of birth ever is.
"""

from fastapi import APIRouter

from ignis.staff_app.pages import calls, day, inbox, patients, sign_in, sms, system

__all__ = ["router"]

router = APIRouter()
for screen in (sign_in, inbox, calls, sms, patients, day, system):
    router.include_router(screen.router)
