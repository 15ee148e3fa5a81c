"""The patients service's SQL: the only package of the service that runs it. It flushes, never commits.

`PatientRepository` is the one object the service's modules receive; each concern's statements live in
their own module here: `patients` (the patients table), `refs` (verifications), `attempts` (identification
budgets), `calls`, `requests`, `retention` (expiry and erasure), `vendor` (conversations at ElevenLabs) and
`fhir_links` (FHIR record mode's bookkeeping).
"""

from sqlalchemy.ext.asyncio import AsyncSession

from ignis.patients.repository.attempts import AttemptRows, BudgetUsage, Identification
from ignis.patients.repository.calls import CallRows
from ignis.patients.repository.fhir_links import FhirLinkRows
from ignis.patients.repository.patients import PatientRows
from ignis.patients.repository.refs import RefRows
from ignis.patients.repository.requests import RequestRows
from ignis.patients.repository.retention import RetentionRows
from ignis.patients.repository.vendor import VendorRows

__all__ = ["BudgetUsage", "Identification", "PatientRepository"]


class PatientRepository(
    PatientRows,
    RefRows,
    AttemptRows,
    CallRows,
    RequestRows,
    RetentionRows,
    VendorRows,
    FhirLinkRows,
):
    """Ignis' own rows of the patients service, and (in the default record mode) the patients themselves:
    `records` is where the patients are, this repository itself unless the FHIR server holds them."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self.records = self
        self.cached = False
