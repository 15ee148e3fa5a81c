"""Urgent requests reach the practice team off-screen too: one SMS per urgent request to the practice's
staff mobile (practice file `sms.staff_mobile`), never in the quiet hours (the inbox shows it then), and
never with the request's details (health data): only that one is waiting, and of which kind."""

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from ignis.contracts.requests import RequestCreated
from ignis.kit.phones import to_e164
from ignis.notifier.providers import Outcome, SmsProvider
from ignis.notifier.repository import NotifierRepository
from ignis.notifier.service import in_quiet_hours
from ignis.practice.config import Practice

logger = logging.getLogger("ignis.notifier.alerts")
KINDS = {
    "rueckruf": "Rückruf",
    "rezept": "Rezept",
    "ueberweisung": "Überweisung",
    "krankschreibung": "Krankschreibung",
    "nachricht": "Nachricht",
}
TEXT = "Ignis: Neue dringende Anfrage ({kind}). Bitte im Eingang der Praxis-App ansehen."


class AlertNotSent(Exception):
    """sipgate certainly did not send it and a later attempt may: the event is delivered again."""


async def alert_staff(
    repo: NotifierRepository,
    provider: SmsProvider,
    practice: Practice,
    event: RequestCreated,
    now: dt.datetime,
) -> str:
    """Send the alert of an urgent request once; what happened, for the log."""
    mobile = to_e164(practice.sms.staff_mobile) if practice.sms.staff_mobile else None
    if not event.urgent or mobile is None:
        return "not needed"
    if in_quiet_hours(now.astimezone(ZoneInfo(practice.timezone)).time(), practice):
        return "quiet hours"
    if not await repo.add_staff_alert(event.request_id, now):
        return "sent before"
    text = TEXT.format(kind=KINDS.get(event.request_kind.value, event.request_kind.value))
    result = await provider.send(mobile, text, f"alert-{event.request_id}")
    if result.outcome is Outcome.retry:
        raise AlertNotSent(result.reason or "try again")  # rolls the record back: the redelivery sends it
    await repo.finish_staff_alert(event.request_id, result.outcome.value, result.reason)
    return result.outcome.value
