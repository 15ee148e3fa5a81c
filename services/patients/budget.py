"""Identification budgets: a birth date must not be guessable, however many calls or numbers one uses.

Every failed identification and every new registration is one attempt, counted against three budgets over
a window: the conversation (a call), the caller number (withheld numbers share one bucket) and the last name
said (all callers together). The name is keyed by the Kölner Phonetik code of each of its parts, because
identification accepts sound-alikes: "Möller" verifies Frau Müller when nothing matches exactly, so a guesser
must not get ten new guesses per spelling. Every name is counted, whether or not a patient has it, and a new
registration counts like a failure, so neither an answer nor a lock tells a guesser which names exist.

Attempts that share a budget are serialised by advisory locks taken before anything is read, so
concurrent guesses are counted one after another and cannot exceed it. The check and its consequence (the
ref issued, or the failure counted) are one Postgres function (migration 0011), so the locks are held for
one statement, not for a transaction of round trips.
"""

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass

from ignis.kit.phones import to_e164
from ignis.patients.matching import koelner_phonetik, normalise, phonetic
from ignis.patients.models import IdentityAttempt
from ignis.patients.repository import BudgetUsage, Identification, PatientRepository
from ignis.patients.settings import PatientsSettings

WITHHELD = "withheld"
# The code of a last name with no codable part: such names share one bucket.
NO_CODE = "-"


@dataclass(frozen=True)
class Attempt:
    """Who is trying: the keys of the budgets one identification or registration is counted against."""

    conversation_id: str
    caller_key: str
    name_codes: tuple[str, ...]
    name_said: str

    @classmethod
    def of(cls, conversation_id: str, caller_id: str | None, last_name: str) -> "Attempt":
        return cls(conversation_id, caller_key(caller_id), name_codes(last_name), normalise(last_name))

    def lock_keys(self) -> list[int]:
        """One advisory-lock key per budget, sorted, so every transaction takes them in the same order."""
        names = [("conversation", self.conversation_id), ("caller", self.caller_key)]
        names += [("name", code) for code in self.name_codes]
        return sorted(_lock_key(scope, key) for scope, key in names)


def caller_key(caller_id: str | None) -> str:
    """The caller's number in E.164; a withheld or unusable one is the shared `withheld` bucket."""
    return (to_e164(caller_id) if caller_id else None) or WITHHELD


def name_codes(last_name: str) -> tuple[str, ...]:
    """Kölner Phonetik code of each part and of all parts run together, one-letter parts included: matching
    accepts a name spelt out in any grouping ("Y i l maz" is Yilmaz), so every grouping of the same letters
    must land in the bucket of the whole name, not in one of its own."""
    codes = set(phonetic(last_name).split())
    if whole := koelner_phonetik("".join(normalise(last_name).split())):
        codes.add(whole)
    return tuple(sorted(codes)) or (NO_CODE,)


def _lock_key(scope: str, key: str) -> int:
    digest = hashlib.blake2b(f"ignis.identity.{scope}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def check(
    repo: PatientRepository,
    settings: PatientsSettings,
    attempt: Attempt,
    now: dt.datetime,
    *,
    issue: tuple[uuid.UUID, str, dt.datetime] | None = None,
    failed: bool = False,
) -> Identification:
    """Take the budgets' locks and tell whether any budget is used up; if none is, issue the ref of `issue`
    (patient id, candidate ref, expiry) or, `failed`, count a failed identification, all in one statement.
    On its own (autocommit) the locks go with it; in a transaction (registration) they stay until its end."""
    return await repo.identification(
        attempt.lock_keys(),
        attempt.conversation_id,
        attempt.caller_key,
        attempt.name_codes,
        window_start(settings, now),
        (settings.max_identify_attempts, settings.max_caller_failures, settings.max_name_failures),
        now,
        issue=issue,
        failed_name=attempt.name_said if failed else None,
    )


def newly_locked(settings: PatientsSettings, usage: BudgetUsage) -> list[str]:
    """The name codes that one more counted attempt has just locked."""
    return [code for code, used in usage.names.items() if used + 1 == settings.max_name_failures]


async def count(
    repo: PatientRepository,
    settings: PatientsSettings,
    attempt: Attempt,
    usage: BudgetUsage,
    now: dt.datetime,
) -> list[str]:
    """Record a new registration as an attempt (inside the transaction that `check` locked); returns the
    name codes it has just locked."""
    await repo.add_attempt(
        IdentityAttempt(
            conversation_id=attempt.conversation_id,
            kind="registered",
            caller_key=attempt.caller_key,
            name_codes=list(attempt.name_codes),
            name_said=attempt.name_said,
            attempted_at=now,
        )
    )
    return newly_locked(settings, usage)


def window_start(settings: PatientsSettings, now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(hours=settings.budget_window_hours)
