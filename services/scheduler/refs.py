"""What the patients service answered for a conversation's ref, kept briefly in this process.

A conversation's tool calls with a ref come seconds apart, and asking the patients service each time is a
bus round trip and a query per call: for a call that only reads (find, list), most of its work. So such a
call may use an earlier answer for the same conversation and ref, for up to KEEP and never past the ref's
own expiry; the answer is forgotten at once when its patient is erased (on the erasure event, which every
replica hears, and on the erasure command). A call that writes always asks afresh (`handlers.verified`),
and a refusal is never kept. What the rules read of the patient (birth date, insurance) may thus be up to
KEEP old when a caller searches.
"""

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass

from ignis.contracts.patients import PatientRefResolved

KEEP = dt.timedelta(seconds=60)
LIMIT = 10_000  # answers kept at most; the oldest go first


@dataclass(frozen=True, slots=True)
class _Kept:
    resolved: PatientRefResolved
    kept_at: dt.datetime
    until: dt.datetime


class ResolvedRefs:
    """Answers by (conversation, ref), oldest first, each until the earlier of KEEP and the ref's expiry."""

    def __init__(self, keep: dt.timedelta = KEEP, limit: int = LIMIT) -> None:
        self.keep, self.limit = keep, limit
        self._kept: OrderedDict[tuple[str, str], _Kept] = OrderedDict()

    def get(self, conversation_id: str, patient_ref: str, now: dt.datetime) -> PatientRefResolved | None:
        self._drop_stale(now)
        kept = self._kept.get((conversation_id, patient_ref))
        return kept.resolved if kept is not None and now < kept.until else None

    def put(
        self, conversation_id: str, patient_ref: str, resolved: PatientRefResolved, now: dt.datetime
    ) -> None:
        """Keep an answer that says until when its ref holds (one without says nothing and is not kept)."""
        if resolved.expires_at is None or resolved.expires_at <= now:
            return
        key = (conversation_id, patient_ref)
        self._kept.pop(key, None)  # a fresh answer goes to the end, in order of age
        self._kept[key] = _Kept(resolved, now, min(now + self.keep, resolved.expires_at))
        while len(self._kept) > self.limit:
            self._kept.popitem(last=False)

    def forget_patient(self, patient_id: str) -> None:
        for key in [k for k, kept in self._kept.items() if kept.resolved.patient_id == patient_id]:
            del self._kept[key]

    def __len__(self) -> int:
        return len(self._kept)

    def _drop_stale(self, now: dt.datetime) -> None:
        """Answers kept KEEP, from the oldest on: none of a caller's data stays longer than that after the
        next call. (One whose ref expired sooner is ignored from then on and dropped in its turn.)"""
        while self._kept and now >= next(iter(self._kept.values())).kept_at + self.keep:
            self._kept.popitem(last=False)
