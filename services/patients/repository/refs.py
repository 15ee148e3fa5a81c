"""Verifications: the refs a conversation holds for the patients it identified."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from ignis.kit.db import fetchrow
from ignis.patients.models import Patient, Verification
from ignis.patients.repository.base import PATIENT, Columns, RepositoryBase

_VERIFICATION = Columns(Verification, "v")
_VERIFIED_PATIENT = (
    f"SELECT {_VERIFICATION.sql}, {PATIENT.sql} FROM {_VERIFICATION.table}"
    f" LEFT JOIN {PATIENT.table} ON p.id = v.patient_id WHERE v.patient_ref = $1"
)


class RefRows(RepositoryBase):
    """Which patient each ref of a conversation stands for, and until when."""

    async def issue_ref(
        self, conversation_id: str, patient_id: uuid.UUID, candidate_ref: str, expires_at: dt.datetime
    ) -> str:
        """Return the conversation's ref for this patient, creating it or extending its expiry."""
        statement = (
            insert(Verification)
            .values(
                patient_ref=candidate_ref,
                conversation_id=conversation_id,
                patient_id=patient_id,
                expires_at=expires_at,
            )
            .on_conflict_do_update(
                constraint="uq_verification_conversation_patient",
                set_={"expires_at": expires_at},
            )
            .returning(Verification.patient_ref)
        )
        return str((await self.session.execute(statement)).scalar_one())

    async def verification(self, patient_ref: str) -> Verification | None:
        return await self.session.get(Verification, patient_ref)

    async def verified_patient(self, patient_ref: str) -> tuple[Verification, Patient | None] | None:
        """The ref's verification and its patient (None if erased since): one statement through the driver
        (`kit.db.fetchrow`) when the patients are kept here: every scheduler tool call with a ref asks it."""
        if not isinstance(self.records, RepositoryBase):  # on the FHIR server
            verification = await self.verification(patient_ref)
            if verification is None:
                return None
            return verification, await self.records.patient_of(verification.patient_id)
        row = await fetchrow(self.session, _VERIFIED_PATIENT, patient_ref)
        if row is None:
            return None
        split = len(_VERIFICATION.names)
        erased = row[split + PATIENT.names.index("id")] is None  # no patient row joined
        patient = None if erased else PATIENT.instance(row[split:])
        return _VERIFICATION.instance(row[:split]), patient

    async def patient_of_conversation(self, conversation_id: str) -> uuid.UUID | None:
        """The patient last verified in that conversation, if any."""
        return await self.session.scalar(
            select(Verification.patient_id)
            .where(Verification.conversation_id == conversation_id)
            .order_by(Verification.created_at.desc())
            .limit(1)
        )

    async def verified_in(self, conversation_id: str) -> Sequence[tuple[str, Patient]]:
        """(ref, patient) of every patient verified in this conversation."""
        query = select(Verification.patient_ref, Verification.patient_id).where(
            Verification.conversation_id == conversation_id
        )
        rows = (await self.session.execute(query)).all()
        patients = await self._patients(patient_id for _, patient_id in rows)
        return [(ref, patients[patient_id]) for ref, patient_id in rows if patient_id in patients]
