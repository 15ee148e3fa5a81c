"""What every part of the patients repository shares: the unit of work's session, the schema, and where the
patients are."""

import uuid
from collections.abc import Iterable

from ignis.kit.db import Repository
from ignis.patients.models import SCHEMA, Patient
from ignis.patients.records import PatientRecords


class RepositoryBase(Repository):
    """The base of each part of `PatientRepository`; it flushes, never commits."""

    schema = SCHEMA
    # Where the patients are: the repository itself unless the FHIR server holds them.
    records: PatientRecords

    async def _patients(self, patient_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, Patient]:
        """The patients of these ids, wherever the records are (rows here link to them by id only)."""
        patients = await self.records.by_ids(list({i for i in patient_ids if i is not None}))
        return {patient.id: patient for patient in patients}
