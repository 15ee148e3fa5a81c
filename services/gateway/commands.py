"""The agent's tool bodies become the services' commands: birth dates and wishes ("nächsten Dienstag",
"ab 16 Uhr") read as callers say them, on the practice's date today; a value that cannot be read is a
`ToolInputError`, which the caller hears as that outcome (HTTP 200), never as a failure."""

import datetime as dt
from typing import Any

from ignis.contracts.base import ErrorCode
from ignis.contracts.patients import IdentifyPatient, RegisterPatient
from ignis.contracts.scheduling import FindSlots, JoinWaitlist
from ignis.contracts.tools import FindSlotsBody, IdentifyPatientBody, JoinWaitlistBody, RegisterPatientBody
from ignis.language.dates import DateParseError, parse_birth_date
from ignis.language.phrases import Wish, parse_wish


class ToolInputError(Exception):
    """The body is well-formed but a value is unusable; the agent is told which outcome, with HTTP 200."""

    def __init__(self, code: ErrorCode) -> None:
        super().__init__(code.value)
        self.code = code


def _birth_date(text: str, today: dt.date) -> Any:
    try:
        return parse_birth_date(text, today=today)
    except DateParseError:
        raise ToolInputError(ErrorCode.invalid_birth_date) from None


# No caller means a day years away ("31.12.9999" would overflow the scheduler's date arithmetic).
_FARTHEST_DAYS = 3 * 366


def _wish(text: str | None, today: dt.date) -> Wish:
    """The days and hours a field says ("nächste Woche", "ab 16 Uhr"); unparseable is `invalid_date`."""
    if not text:
        return Wish()
    try:
        wish = parse_wish(text, today=today)
    except DateParseError:
        raise ToolInputError(ErrorCode.invalid_date) from None
    for day in (wish.first, wish.last):
        if day is not None and abs((day - today).days) > _FARTHEST_DAYS:
            raise ToolInputError(ErrorCode.invalid_date)
    return wish


def find_slots(body: FindSlotsBody, today: dt.date) -> FindSlots:
    """`when` bounds both ends, `earliest` the first day, `latest` the last; hours said in any field count."""
    earliest, latest = _wish(body.earliest, today), _wish(body.latest, today)
    wish = (
        _wish(body.when, today)
        & Wish(first=earliest.first, after=earliest.after, before=earliest.before)
        & Wish(last=latest.last, after=latest.after, before=latest.before)
        & _wish(body.part_of_day, today)
    )
    if wish.after is not None and wish.before is not None and wish.after >= wish.before:
        raise ToolInputError(ErrorCode.invalid_date)
    return FindSlots(
        conversation_id=body.conversation_id,
        visit_type=body.visit_type,
        earliest=wish.first,
        latest=wish.last,
        after=wish.after,
        before=wish.before,
        practitioner=body.practitioner or None,
        patient_ref=body.patient_ref or None,
        limit=max(1, min(5, body.limit)),
        referral=body.referral,
    )


def join_waitlist(body: JoinWaitlistBody, today: dt.date) -> JoinWaitlist:
    """The days the caller would take, as said ("nächste Woche"); hours of the day are not kept."""
    return JoinWaitlist(
        conversation_id=body.conversation_id,
        patient_ref=body.patient_ref,
        visit_type=body.visit_type,
        earliest=_wish(body.earliest, today).first,
        latest=_wish(body.latest, today).last,
        practitioner=body.practitioner or None,
    )


def identify(body: IdentifyPatientBody, today: dt.date) -> IdentifyPatient:
    return IdentifyPatient(
        conversation_id=body.conversation_id,
        caller_id=body.caller_id or None,
        last_name=body.last_name,
        birth_date=_birth_date(body.birth_date, today),
        first_name=body.first_name or None,
    )


def register(body: RegisterPatientBody, today: dt.date) -> RegisterPatient:
    return RegisterPatient(
        conversation_id=body.conversation_id,
        caller_id=body.caller_id or None,
        first_name=body.first_name,
        last_name=body.last_name,
        birth_date=_birth_date(body.birth_date, today),
        phone=body.phone or None,
        insurance=body.insurance,
        sms_consent=body.sms_consent,
        salutation=body.salutation,
    )
