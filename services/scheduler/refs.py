"""What the patients service answered for a conversation's ref, kept briefly in this process.

A conversation's tool calls with a ref come seconds apart, and asking the patients service each time is a
bus round trip and a query per call: for a call that only reads (find, list), most of its work. So such a
call may use an earlier answer for the same conversation and ref, for up to KEEP and never past the ref's
own expiry. A call that writes always asks afresh (`resolve`), and a refusal is never kept.

An erased patient's answers are forgotten when the erasure reaches this process (the erasure command, or
the event, which every replica hears moments after the patients service commits it); an answer that was on
its way then is refused for KEEP. A replica that missed the event (cut off from NATS) forgets within KEEP.
What the rules read of the patient (birth date, insurance) may thus be up to KEEP old when a caller
searches; nothing of it stays in memory much past KEEP (`sweep` runs every KEEP).
"""

import asyncio
import datetime as dt
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from faststream.nats import NatsBroker
from pydantic import TypeAdapter

from ignis.contracts import subjects
from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.patients import PatientRefResolved, ResolvePatientRef
from ignis.kit.bus import ask
from ignis.kit.clock import utcnow
from ignis.kit.errors import NotVerified, ServiceError, Unavailable

KEEP_SECONDS = 60.0
LIMIT = 10_000  # answers kept at most; the oldest go first
_RESOLVED: TypeAdapter[PatientRefResolved | ErrorReply] = TypeAdapter(PatientRefResolved | ErrorReply)


def refusal(reply: ErrorReply) -> ServiceError:
    """What the patients service's error reply to a command naming a ref means to the caller: the ref is not
    valid in this conversation, or the service failed (heard as `unavailable`)."""
    if reply.code is ErrorCode.not_verified:
        return NotVerified("ref not valid in this conversation")
    return Unavailable("patients service failed")


@dataclass(frozen=True, slots=True)
class _Kept:
    resolved: PatientRefResolved
    kept_at: float  # on `clock`, which never steps back


class ResolvedRefs:
    """Answers by (conversation, ref), oldest first."""

    def __init__(
        self,
        keep_seconds: float = KEEP_SECONDS,
        limit: int = LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keep, self.limit, self.clock = keep_seconds, limit, clock
        self._kept: OrderedDict[tuple[str, str], _Kept] = OrderedDict()
        self._erased: dict[str, float] = {}  # patient id → when its erasure was heard

    async def resolve(
        self,
        broker: NatsBroker,
        conversation_id: str,
        patient_ref: str,
        *,
        reading: bool,
        within_seconds: float,
    ) -> PatientRefResolved:
        """The patients service's answer for the conversation's ref, or, for a call that only reads, the one
        kept from an earlier call. A ref not verified in this conversation raises `NotVerified`; no answer
        in time, `Unavailable` (which the caller hears as such)."""
        now = utcnow()
        kept = self.get(conversation_id, patient_ref, now) if reading else None
        if kept is not None:
            return kept
        query = ResolvePatientRef(conversation_id=conversation_id, patient_ref=patient_ref)
        answer = await ask(broker, query, subjects.PATIENTS_RESOLVE_REF, _RESOLVED, within_seconds)
        if isinstance(answer, ErrorReply):
            raise refusal(answer)
        self.put(conversation_id, patient_ref, answer, now)
        return answer

    def get(self, conversation_id: str, patient_ref: str, now: dt.datetime) -> PatientRefResolved | None:
        """The kept answer, if its ref still holds at `now` (the wall clock the ref's expiry is on)."""
        self.sweep()
        kept = self._kept.get((conversation_id, patient_ref))
        if kept is None or kept.resolved.expires_at is None or kept.resolved.expires_at <= now:
            return None
        return kept.resolved

    def put(
        self, conversation_id: str, patient_ref: str, resolved: PatientRefResolved, now: dt.datetime
    ) -> None:
        """Keep an answer just received, unless it does not say until when its ref holds or its patient's
        erasure was heard meanwhile."""
        self.sweep()
        if resolved.expires_at is None or resolved.expires_at <= now or resolved.patient_id in self._erased:
            return
        key = (conversation_id, patient_ref)
        self._kept.pop(key, None)  # a fresh answer goes to the end, in order of age
        self._kept[key] = _Kept(resolved, self.clock())
        while len(self._kept) > self.limit:
            self._kept.popitem(last=False)

    def forget_patient(self, patient_id: str) -> None:
        self._erased[patient_id] = self.clock()
        for key in [k for k, kept in self._kept.items() if kept.resolved.patient_id == patient_id]:
            del self._kept[key]

    def sweep(self) -> None:
        """Drop what is older than KEEP: answers from the oldest on, and the erasures heard."""
        edge = self.clock() - self.keep
        while self._kept and next(iter(self._kept.values())).kept_at <= edge:
            self._kept.popitem(last=False)
        for patient_id in [p for p, heard in self._erased.items() if heard <= edge]:
            del self._erased[patient_id]

    def __len__(self) -> int:
        return len(self._kept)

    async def sweep_every_keep(self) -> None:
        """Until cancelled: so a quiet practice's last caller is not kept until the next call."""
        while True:
            await asyncio.sleep(self.keep)
            self.sweep()
