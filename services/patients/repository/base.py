"""What every part of the patients repository shares: the unit of work's session, the schema, and where the
patients are."""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, TypeDecorator

from ignis.kit.db import Repository
from ignis.patients.models import SCHEMA, Base, Patient
from ignis.patients.records import PatientRecords

M = TypeVar("M", bound=Base)


class Columns(Generic[M]):
    """A mapped table's columns in a statement run through the driver (`kit.db.fetch`), and its rows back
    as instances, which are not in the session (what reads them through the driver does not change them).
    The driver's values are the ORM's only where no column type converts them (`Encrypted` does) and each
    attribute is its column's name: a table that breaks either is refused here, at import."""

    def __init__(self, model: type[M], alias: str) -> None:
        table: Table = model.__table__  # type: ignore[assignment]  # a mapped class's is a Table
        unfit = [c.key for c in table.columns if isinstance(c.type, TypeDecorator) or c.key != c.name]
        if unfit:
            raise TypeError(f"{table.fullname}: {unfit} cannot be read through the driver as they are")
        self.model, self.names = model, [column.key for column in table.columns]
        self.table = f"{table.fullname} AS {alias}"
        self.sql = ", ".join(f"{alias}.{name}" for name in self.names)

    def instance(self, values: Sequence[Any]) -> M:
        return self.model(**dict(zip(self.names, values, strict=True)))


PATIENT = Columns(Patient, "p")  # the patients table, as every statement through the driver reads it


class RepositoryBase(Repository):
    """The base of each part of `PatientRepository`; it flushes, never commits."""

    schema = SCHEMA
    # Where the patients are: the repository itself unless the FHIR server holds them.
    records: PatientRecords

    async def _patients(self, patient_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, Patient]:
        """The patients of these ids, wherever the records are (rows here link to them by id only)."""
        patients = await self.records.by_ids(list({i for i in patient_ids if i is not None}))
        return {patient.id: patient for patient in patients}
