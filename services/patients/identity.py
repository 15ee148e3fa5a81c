"""Caller identification: who a caller is by name and birth date, within the identification budgets, and
the locks those budgets set, which staff see and lift.

`not_found` and `too_many_attempts` are answers, not exceptions: the failed attempt they count is
committed by the budget check's own statement (`budget.check`), and the reply must say so, not fail.
"""

import datetime as dt
import logging
import uuid
from collections.abc import Sequence

from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.patients import (
    IdentifyPatient,
    IdentityLock,
    IdentityLocks,
    IdentityUnlocked,
    PatientIdentified,
    UnlockIdentity,
)
from ignis.contracts.requests import RequestKind
from ignis.patients import budget
from ignis.patients.matching import NameMatch, SpokenName
from ignis.patients.models import Patient, Request
from ignis.patients.refs import new_ref
from ignis.patients.repository import PatientRepository
from ignis.patients.requests import file_request
from ignis.patients.settings import PatientsSettings

logger = logging.getLogger("ignis.patients.identity")

TOO_MANY_ATTEMPTS = ErrorReply(code=ErrorCode.too_many_attempts, message="identification budget used up")


def _best(candidates: Sequence[Patient], spoken: str, name_of: str) -> list[Patient]:
    """The candidates whose name matches best; exact spellings win over phonetic near misses."""
    said = SpokenName(spoken)
    scored = [(said.match(getattr(patient, name_of)), patient) for patient in candidates]
    top = max((score for score, _ in scored), default=NameMatch.NONE)
    return [] if top is NameMatch.NONE else [patient for score, patient in scored if score is top]


def find_matches(candidates: Sequence[Patient], last_name: str, first_name: str | None) -> list[Patient]:
    """Patients that name + birth date identify; more than one means ask, never guess."""
    matches = _best(candidates, last_name, "last_name")
    if first_name and matches:
        matches = _best(matches, first_name, "first_name")
    return matches


def salutation_of(patient: Patient) -> str:
    if patient.salutation:
        return f"{patient.salutation} {patient.last_name}"
    return f"{patient.first_name} {patient.last_name}"


async def identify(
    repo: PatientRepository, settings: PatientsSettings, cmd: IdentifyPatient, now: dt.datetime
) -> PatientIdentified | ErrorReply:
    """Two round trips when the unit of work is autocommit (the handler's): the candidates, then the
    budgets' check with its consequence (`budget.check`). The candidates are read and matched before the
    budgets' locks are taken, which every caller of the same name waits for; nothing is answered before
    the budgets are checked."""
    attempt = budget.Attempt.of(cmd.conversation_id, cmd.caller_id, cmd.last_name)
    matches = find_matches(await repo.records.by_birth_date(cmd.birth_date), cmd.last_name, cmd.first_name)
    if not matches and repo.records.cached:  # a patient entered a moment ago: ask the records themselves
        fresh = await repo.records.by_birth_date(cmd.birth_date, fresh=True)
        matches = find_matches(fresh, cmd.last_name, cmd.first_name)
    if len(matches) == 1:
        patient = matches[0]
        verdict = await budget.check(
            repo, settings, attempt, now, issue=(patient.id, *new_ref(settings, now))
        )
        if verdict.locked or verdict.patient_ref is None:
            return TOO_MANY_ATTEMPTS
        return PatientIdentified(
            patient_ref=verdict.patient_ref, first_name=patient.first_name, salutation=salutation_of(patient)
        )
    if len(matches) > 1:
        verdict = await budget.check(repo, settings, attempt, now)
        if verdict.locked:
            return TOO_MANY_ATTEMPTS
        return ErrorReply(code=ErrorCode.ambiguous, message=f"{len(matches)} patients match")
    verdict = await budget.check(repo, settings, attempt, now, failed=True)
    if verdict.locked:
        return TOO_MANY_ATTEMPTS
    await alert_locks(
        repo, settings, attempt, budget.newly_locked(settings, verdict.usage), cmd.last_name, now
    )
    if verdict.locked_after:
        return TOO_MANY_ATTEMPTS
    failures = verdict.usage.conversation + 1
    return ErrorReply(code=ErrorCode.not_found, message=f"no match (attempt {failures})")


async def alert_locks(
    repo: PatientRepository,
    settings: PatientsSettings,
    attempt: budget.Attempt,
    locked: list[str],
    last_name: str,
    now: dt.datetime,
) -> None:
    """When an attempt has just locked a name that a patient has, tell staff at once (never the dates)."""
    if not locked:
        return
    names = await repo.records.last_names()  # None: too many to tell, so the name counts as in use
    in_use = None if names is None else {code for name in names for code in budget.name_codes(name)}
    for code in locked:
        if in_use is None or code in in_use:
            details = (
                "Telefonische Identifizierung gesperrt: "
                f"{settings.max_name_failures} erfolglose Versuche oder Neuanmeldungen in "
                f"{settings.budget_window_hours} Stunden für den Nachnamen „{last_name.strip()}“ "
                "(oder einen ähnlich klingenden). "
                "Möglicherweise versucht jemand, ein Geburtsdatum zu erraten. "
                "Bitte die Anrufe prüfen; die Sperre endet von selbst oder wird vom Praxisteam aufgehoben."
            )
            request = Request(
                id=uuid.uuid4(),
                kind=RequestKind.nachricht.value,
                details=details,
                patient_id=None,
                conversation_id=attempt.conversation_id,
                callback_number=None,
                urgent=True,
                idempotency_key=f"identity-lock:{code}:{now.isoformat()}",
            )
            async with repo.atomic():  # the request and its event land together
                await file_request(repo, request, now)
            logger.warning("identification locked for a name in use")  # no code: it derives from a name
            return


async def identity_locks(
    repo: PatientRepository, settings: PatientsSettings, now: dt.datetime
) -> IdentityLocks:
    rows = await repo.budget_locks(
        budget.window_start(settings, now), settings.max_caller_failures, settings.max_name_failures
    )
    window = dt.timedelta(hours=settings.budget_window_hours)
    return IdentityLocks(
        items=[
            IdentityLock(
                scope=row.scope,
                key=row.key,
                failures=row.failures,
                names_said=sorted(row.names),
                locked_until=row.lifting + window,
            )
            for row in rows
        ]
    )


async def unlock_identity(repo: PatientRepository, cmd: UnlockIdentity, now: dt.datetime) -> IdentityUnlocked:
    await repo.unlock(cmd.scope, cmd.key, now)
    logger.info("identification lock lifted by staff", extra={"scope": cmd.scope})
    return IdentityUnlocked(scope=cmd.scope)
