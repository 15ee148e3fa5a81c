"""Retention and erasure: what expires, and everything a patient left here."""

import datetime as dt
import uuid

from sqlalchemy import ColumnElement, and_, delete, or_, select, union

from ignis.patients.models import Call, FhirPatient, IdentityAttempt, Patient, Request, Verification
from ignis.patients.repository.base import RepositoryBase


class RetentionRows(RepositoryBase):
    """Expired call records, and erasure of one patient's data."""

    async def purge_calls(self, now: dt.datetime) -> int:
        result = await self.session.execute(delete(Call).where(Call.retain_until <= now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def _left_by(self, patient_id: uuid.UUID, phone: str | None) -> tuple[ColumnElement[bool], ...]:
        """What a patient left here: call records and requests linked to them, and, from their phone number,
        those of calls in which they were not (yet) verified: an unverified call or a callback request."""
        calls = Call.patient_id == patient_id
        requests = Request.patient_id == patient_id
        if phone:
            calls = or_(calls, and_(Call.patient_id.is_(None), Call.caller_number == phone))
            requests = or_(requests, and_(Request.patient_id.is_(None), Request.callback_number == phone))
        return calls, requests

    async def conversations_of(self, patient_id: uuid.UUID) -> set[str]:
        """Every conversation that carries the patient's data: copies elsewhere (NATS) are found by these."""
        phone = await self._phone(patient_id)
        calls, requests = self._left_by(patient_id, phone)
        query = union(
            select(Call.conversation_id).where(calls),
            select(Request.conversation_id).where(requests),
            select(Verification.conversation_id).where(Verification.patient_id == patient_id),
        )
        return set((await self.session.scalars(query)).all())

    async def erase(self, patient_id: uuid.UUID) -> dict[str, int]:
        """Delete everything this service keeps about one patient (in FHIR record mode: Ignis' link to the
        FHIR Patient; the practice's own record there is the practice's to erase)."""
        phone = await self._phone(patient_id)
        calls, requests = self._left_by(patient_id, phone)
        counts: dict[str, int] = {}
        for name, model, where in (
            ("calls", Call, calls),
            ("requests", Request, requests),
            ("verifications", Verification, Verification.patient_id == patient_id),
            # Identification attempts from their number (kept for the budgets' window only).
            ("identity_attempts", IdentityAttempt, IdentityAttempt.caller_key == (phone or "")),
            ("patient", Patient, Patient.id == patient_id),
            ("patient", FhirPatient, FhirPatient.patient_id == patient_id),
        ):
            result = await self.session.execute(delete(model).where(where))
            counts[name] = counts.get(name, 0) + int(result.rowcount or 0)  # type: ignore[attr-defined]
        return counts

    async def _phone(self, patient_id: uuid.UUID) -> str | None:
        patient = await self.records.get(patient_id)
        return patient.phone if patient else None
