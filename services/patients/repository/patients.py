"""The patients themselves, in the default record mode (the FHIR mode keeps them on the FHIR server)."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, text

from ignis.kit.db import fetch
from ignis.patients.models import Patient
from ignis.patients.repository.base import PATIENT, RepositoryBase

_BY_BIRTH_DATE = f"SELECT {PATIENT.sql} FROM {PATIENT.table} WHERE p.birth_date = $1"


class PatientRows(RepositoryBase):
    """The patients table: `PatientRecords` over Ignis' own Postgres."""

    async def by_birth_date(self, birth_date: dt.date, fresh: bool = False) -> Sequence[Patient]:
        """Identification's candidates, through the driver (`kit.db.fetch`): every identify reads them."""
        rows = await fetch(self.session, _BY_BIRTH_DATE, birth_date)
        return [PATIENT.instance(row) for row in rows]

    async def by_phone(self, phone: str, limit: int = 2) -> Sequence[Patient]:
        result = await self.session.execute(select(Patient).where(Patient.phone == phone).limit(limit))
        return result.scalars().all()

    async def by_ids(self, patient_ids: Sequence[uuid.UUID]) -> Sequence[Patient]:
        if not patient_ids:
            return []
        return (
            (await self.session.execute(select(Patient).where(Patient.id.in_(patient_ids)))).scalars().all()
        )

    async def get(self, patient_id: uuid.UUID) -> Patient | None:
        return await self.session.get(Patient, patient_id)

    async def get_many(self, patient_ids: Sequence[uuid.UUID]) -> Sequence[Patient]:
        return await self.by_ids(patient_ids)  # the row is the whole patient here

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(Patient)) or 0)

    async def add(self, patient: Patient) -> Patient:
        self.session.add(patient)
        await self.session.flush()
        return patient

    async def lock_birth_date(self, birth_date: dt.date) -> None:
        """Serialise registrations of one birth date, so check-then-insert cannot create twins."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('ignis.patients.register'), :day)"),
            {"day": birth_date.toordinal()},
        )

    async def last_names(self) -> Sequence[str] | None:
        """Every distinct last name (for the rare check whether a locked name is one a patient has)."""
        return (await self.session.execute(select(Patient.last_name).distinct())).scalars().all()

    async def set_sms_consent(self, patient: Patient, consent: bool, now: dt.datetime) -> None:
        patient.sms_consent = consent
        patient.sms_consent_at = now if consent else None
        await self.session.flush()

    async def fhir_id(self, patient_id: uuid.UUID) -> str | None:
        return None  # Ignis' own records: no FHIR server

    async def patient_of(self, patient_id: uuid.UUID | None) -> Patient | None:
        return await self.session.get(Patient, patient_id) if patient_id else None
