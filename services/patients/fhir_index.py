"""FHIR record mode: the practice's patients by birth date, in this process's memory, so that identifying a
caller needs no FHIR round trip (a birth-date search costs one on every call otherwise).

Kept current by asking the server every `IGNIS_FHIR_INDEX_SECONDS` for what changed since the last change
it saw (`_lastUpdated`, sorted). Only in memory, never written to Ignis' Postgres: names and birth dates
stay the practice's. What the index cannot know yet (a patient entered at the front desk a second ago, a
name just corrected) is found anyway: an identification that matches nobody in the index asks the server
(`FhirPatientRecords.by_birth_date(fresh=True)`), and so does every registration. A Patient deleted on the
server stays in the index until the process restarts (FHIR searches do not return deletions).
"""

import asyncio
import datetime as dt
import logging

from ignis.fhir.client import FhirClient, FhirError, Resource

logger = logging.getLogger("ignis.patients.fhir")

# Patients fetched per request while catching up; the first fill of a practice of 20,000 takes 20 requests.
PAGE = 1000
KEPT = ("resourceType", "id", "active", "name", "birthDate", "gender", "telecom", "identifier")


class PatientIndex:
    """Birth date → the Patients born that day (only the fields identification reads)."""

    def __init__(self) -> None:
        self._by_day: dict[str, dict[str, Resource]] = {}
        self._day_of: dict[str, str] = {}
        self._seen: set[tuple[str, str]] = set()  # (id, versionId) at the watermark: not applied twice
        self.watermark: str | None = None
        self.ready = False

    def candidates(self, birth_date: dt.date) -> list[Resource] | None:
        """The patients born that day, or None while the index is not filled yet."""
        if not self.ready:
            return None
        return list(self._by_day.get(birth_date.isoformat(), {}).values())

    def get(self, fhir_id: str) -> Resource | None:
        """One patient's record as last seen, or None when unknown here (ask the server then)."""
        day = self._day_of.get(fhir_id)
        return self._by_day[day].get(fhir_id) if day is not None else None

    def __len__(self) -> int:
        return len(self._day_of)

    def apply(self, resource: Resource) -> None:
        fhir_id = resource["id"]
        if (old := self._day_of.pop(fhir_id, None)) is not None:
            self._by_day[old].pop(fhir_id, None)
        day = resource.get("birthDate")
        if isinstance(day, str):
            self._by_day.setdefault(day, {})[fhir_id] = {k: resource[k] for k in KEPT if k in resource}
            self._day_of[fhir_id] = day

    async def catch_up(self, fhir: FhirClient) -> int:
        """Apply every Patient changed since the watermark; returns how many were new to the index."""
        applied, size = 0, PAGE
        while True:
            params = {"_sort": "_lastUpdated"}
            if self.watermark:
                params["_lastUpdated"] = f"ge{self.watermark}"
            page = await fhir.page("Patient", params, count=size)
            fresh = [r for r in page if (r["id"], r["meta"]["versionId"]) not in self._seen]
            for resource in fresh:
                self.apply(resource)
            applied += len(fresh)
            if page:
                last = page[-1]["meta"]["lastUpdated"]
                if last == self.watermark and len(page) == size:
                    size *= 2  # a full page of one instant: ask for more, or the watermark never moves
                    continue
                at_last = {
                    (r["id"], r["meta"]["versionId"]) for r in page if r["meta"]["lastUpdated"] == last
                }
                self._seen = at_last if last != self.watermark else self._seen | at_last
                self.watermark = last
            if len(page) < size:
                self.ready = True
                return applied


async def keep_current(index: PatientIndex, fhir: FhirClient, every_seconds: float) -> None:
    """Background job of the patients service in FHIR record mode."""
    while True:
        try:
            if changed := await index.catch_up(fhir):
                logger.info("patient index updated", extra={"changed": changed, "patients": len(index)})
        except FhirError as error:
            logger.warning("patient index waits for the FHIR server", extra={"error": str(error)})
        await asyncio.sleep(every_seconds)
