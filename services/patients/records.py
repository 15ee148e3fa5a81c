"""Where the patients themselves are kept: the port the patients service reads and writes them through.

Two implementations, chosen at start-up by `IGNIS_RECORDS`: Ignis' own Postgres (`PatientRepository`, the
default) or the practice's FHIR server (`fhir_records.FhirPatientRecords`). Either way Ignis' own rows (refs,
budgets, call records, requests, outbox) stay in Postgres and link to a patient by Ignis' id only.
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Protocol

from ignis.patients.models import Patient


class PatientRecords(Protocol):
    # Whether `by_birth_date` may answer from a copy that lags the records (then `fresh=True` asks them).
    cached: bool

    async def by_birth_date(self, birth_date: dt.date, fresh: bool = False) -> Sequence[Patient]: ...

    async def by_phone(self, phone: str, limit: int = 2) -> Sequence[Patient]: ...

    async def by_ids(self, patient_ids: Sequence[uuid.UUID]) -> Sequence[Patient]: ...

    async def get(self, patient_id: uuid.UUID) -> Patient | None:
        """The patient with everything Ignis keeps about them (SMS consent included)."""
        ...

    async def get_many(self, patient_ids: Sequence[uuid.UUID]) -> Sequence[Patient]:
        """`get` for several patients; those that do not exist are left out."""
        ...

    async def patient_of(self, patient_id: uuid.UUID | None) -> Patient | None: ...

    async def fhir_id(self, patient_id: uuid.UUID) -> str | None:
        """The patient's id on the FHIR server; None in Ignis' own records (asked of nothing)."""
        ...

    async def add(self, patient: Patient) -> Patient:
        """A new patient; adding the same registration again (a retry) must not make a second."""
        ...

    async def count(self) -> int: ...

    async def last_names(self) -> Sequence[str] | None:
        """Every last name in the records; None when that cannot be told (too many to list)."""
        ...

    async def set_sms_consent(self, patient: Patient, consent: bool, now: dt.datetime) -> None: ...
