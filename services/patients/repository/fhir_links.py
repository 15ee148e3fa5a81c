"""FHIR record mode: which FHIR Patient each Ignis id stands for, and what the FHIR server shows yet."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from ignis.patients.models import Call, FhirPatient, Request
from ignis.patients.repository.base import RepositoryBase


class FhirLinkRows(RepositoryBase):
    """Links to FHIR Patients, and the requests and calls the FHIR server is behind on."""

    async def link_fhir_patients(self, links: dict[uuid.UUID, str]) -> None:
        """FHIR record mode: remember which FHIR Patient each Ignis patient id stands for."""
        if links:
            rows = [{"patient_id": key, "fhir_id": fhir_id} for key, fhir_id in links.items()]
            await self.session.execute(insert(FhirPatient).values(rows).on_conflict_do_nothing())

    async def fhir_ids(self, patient_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not patient_ids:
            return {}
        query = select(FhirPatient.patient_id, FhirPatient.fhir_id).where(
            FhirPatient.patient_id.in_(patient_ids)
        )
        return {row.patient_id: row.fhir_id for row in (await self.session.execute(query)).all()}

    async def requests_behind_fhir(self, limit: int) -> Sequence[Request]:
        """FHIR record mode: requests whose Task does not show their status yet, oldest first."""
        query = select(Request).where(Request.fhir_status.is_distinct_from(Request.status))
        return (await self.session.scalars(query.order_by(Request.created_at).limit(limit))).all()

    async def request_in_fhir(self, request_id: uuid.UUID, status: str) -> None:
        await self.session.execute(update(Request).where(Request.id == request_id).values(fhir_status=status))

    async def calls_behind_fhir(self, limit: int) -> Sequence[Call]:
        """FHIR record mode: calls of a verified patient whose Communication is not written (or outdated)."""
        query = select(Call).where(Call.patient_id.is_not(None), Call.fhir_kind.is_distinct_from(Call.kind))
        return (await self.session.scalars(query.order_by(Call.received_at).limit(limit))).all()

    async def call_in_fhir(self, conversation_id: str, kind: str) -> None:
        statement = update(Call).where(Call.conversation_id == conversation_id).values(fhir_kind=kind)
        await self.session.execute(statement)
