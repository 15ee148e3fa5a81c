"""The patients on the practice's FHIR server (IGNIS_RECORDS=fhir): `PatientRecords` over FHIR R4.

Candidates are found by birth date on the server (`Patient?birthdate=`); Ignis' own German name matching
picks among them (a FHIR `family=` search does not match Müller, Mueller and Muller). A patient gets a
stable Ignis id derived from its FHIR logical id, kept in `patients.fhir_patient`, because refs, call
records and requests in Ignis' Postgres hold Ignis ids. A registration writes Patient, Coverage (the
insurance kind, de.basisprofil) and, with the caller's yes, a Consent for SMS in one transaction, each with
`ifNoneExist` on the registration's identifier: a retried registration never makes a second patient.
docs/fhir.md has the mapping field by field.
"""

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ignis.contracts.patients import Insurance
from ignis.fhir import codes
from ignis.fhir.client import FhirClient, FhirIncomplete, Resource, reference, token, version_of
from ignis.fhir.ids import PATIENT_NAMESPACE, patient_id_of
from ignis.kit.clock import utcnow
from ignis.kit.phones import is_mobile
from ignis.patients.fhir_index import PatientIndex
from ignis.patients.matching import normalise, phonetic
from ignis.patients.models import Patient
from ignis.patients.repository import PatientRepository

INSURANCE_TYPE = {
    Insurance.gesetzlich.value: "GKV",
    Insurance.privat.value: "PKV",
    Insurance.selbstzahler.value: "SEL",
}
GENDER = {"Frau": "female", "Herr": "male"}
SALUTATION = {gender: salutation for salutation, gender in GENDER.items()}
SMS_CATEGORY = {"system": codes.IGNIS_CONSENT, "code": "sms", "display": "Terminerinnerungen per SMS"}


def registration_key(patient: Patient) -> str:
    """The identifier of one registration: the same person (name, birth date) gives the same key, so a retry
    (or a second line registering them at the same moment) finds the first one's record."""
    said = f"{normalise(patient.last_name)}|{normalise(patient.first_name)}|{patient.birth_date.isoformat()}"
    return str(uuid.uuid5(PATIENT_NAMESPACE, said))


def _name(resource: Resource) -> tuple[str, str] | None:
    names = [n for n in resource.get("name") or [] if isinstance(n, dict) and n.get("family")]
    if not names:
        return None
    name = next((n for n in names if n.get("use") == "official"), names[0])
    return " ".join(name.get("given") or []), str(name["family"])


def _phone(resource: Resource) -> str | None:
    phones = [t for t in resource.get("telecom") or [] if t.get("system") == "phone" and t.get("value")]
    mobile = [t for t in phones if t.get("use") == "mobile"]
    return str((mobile or phones)[0]["value"]) if phones else None


def to_patient(resource: Resource, consent: Resource | None = None) -> Patient | None:
    """The patient as the service sees it; None for a record it cannot identify anyone by (no family
    name or birth date) or one the practice marked inactive."""
    name, born = _name(resource), resource.get("birthDate")
    if name is None or not isinstance(born, str) or len(born) != 10 or resource.get("active") is False:
        return None
    first_name, last_name = name
    granted = consent is not None and _permits(consent)
    return Patient(
        id=patient_id_of(resource["id"]),
        first_name=first_name,
        last_name=last_name,
        salutation=SALUTATION.get(resource.get("gender") or ""),
        birth_date=dt.date.fromisoformat(born),
        last_name_key=normalise(last_name),
        last_name_phonetic=phonetic(last_name),
        phone=_phone(resource),
        insurance="",  # Coverage is written at registration; the booking rules then see no insurance kind
        # A phone registration carries Ignis' registration identifier: the practice rules' "new patient".
        registered_by_phone=any(
            i.get("system") == codes.IGNIS_REGISTRATION for i in resource.get("identifier") or []
        ),
        sms_consent=granted,
        sms_consent_at=_consent_time(consent) if granted and consent else None,
    )


def _permits(consent: Resource) -> bool:
    return consent.get("status") == "active" and (consent.get("provision") or {}).get("type") == "permit"


def _consent_time(consent: Resource) -> dt.datetime | None:
    when = consent.get("dateTime")
    return dt.datetime.fromisoformat(when.replace("Z", "+00:00")) if isinstance(when, str) else None


def patient_resource(patient: Patient, key: str) -> Resource:
    telecom = []
    if patient.phone:
        telecom.append(
            {
                "system": "phone",
                "value": patient.phone,
                "use": "mobile" if is_mobile(patient.phone) else "home",
            }
        )
    resource: Resource = {
        "resourceType": "Patient",
        "identifier": [{"system": codes.IGNIS_REGISTRATION, "value": key}],
        "active": True,
        "name": [{"use": "official", "family": patient.last_name, "given": patient.first_name.split()}],
        "birthDate": patient.birth_date.isoformat(),
        "telecom": telecom,
    }
    if patient.salutation in GENDER:
        resource["gender"] = GENDER[patient.salutation]
    return resource


def coverage_resource(insurance: str, key: str, beneficiary: dict[str, str]) -> Resource:
    """de.basisprofil: the insurance kind as Coverage.type (versicherungsart-de-basis). The insurer is not
    asked on the phone; a self-payer pays themselves."""
    kind = INSURANCE_TYPE[insurance]
    payor = (
        beneficiary if kind == "SEL" else {"display": "Kostenträger nicht erfragt (telefonische Anmeldung)"}
    )
    return {
        "resourceType": "Coverage",
        "identifier": [{"system": codes.IGNIS_REGISTRATION, "value": key}],
        "status": "active",
        "type": {"coding": [{"system": codes.VERSICHERUNGSART, "code": kind}]},
        "beneficiary": beneficiary,
        "payor": [payor],
    }


def consent_resource(granted: bool, at: dt.datetime, key: str, patient: dict[str, str]) -> Resource:
    return {
        "resourceType": "Consent",
        "identifier": [{"system": codes.IGNIS_REGISTRATION, "value": key}],
        "status": "active",
        "scope": {"coding": [{"system": codes.CONSENT_SCOPE, "code": "patient-privacy"}]},
        "category": [
            {"coding": [{"system": codes.LOINC, "code": codes.PATIENT_CONSENT}]},
            {"coding": [SMS_CATEGORY]},
        ],
        "patient": patient,
        "dateTime": at.isoformat(),
        "provision": {"type": "permit" if granted else "deny"},
    }


def _entry(resource: Resource, key: str, full_url: str | None = None) -> Resource:
    kind = resource["resourceType"]
    entry: Resource = {
        "resource": resource,
        "request": {
            "method": "POST",
            "url": kind,
            "ifNoneExist": f"identifier={token(codes.IGNIS_REGISTRATION, key)}",
        },
    }
    if full_url:
        entry["fullUrl"] = full_url
    return entry


class FhirPatientRecords:
    """`PatientRecords` on the FHIR server; the link table (Ignis id → FHIR id) through the repository."""

    def __init__(self, fhir: FhirClient, repo: PatientRepository, index: PatientIndex | None = None) -> None:
        self.fhir = fhir
        self.repo = repo
        self.index = index
        self.cached = index is not None

    async def _seen(self, resources: Iterable[Resource]) -> list[Patient]:
        """The identifiable patients among these resources, their Ignis ids remembered for later reads."""
        found = [(resource["id"], to_patient(resource)) for resource in resources]
        patients = [(fhir_id, patient) for fhir_id, patient in found if patient is not None]
        await self.repo.link_fhir_patients({patient.id: fhir_id for fhir_id, patient in patients})
        return [patient for _, patient in patients]

    async def by_birth_date(self, birth_date: dt.date, fresh: bool = False) -> Sequence[Patient]:
        """From this process's index of the patients (fhir_index) unless `fresh` or not filled yet."""
        known = None if fresh or self.index is None else self.index.candidates(birth_date)
        if known is None:
            known = await self.fhir.search("Patient", {"birthdate": birth_date.isoformat()})
        return await self._seen(known)

    async def by_phone(self, phone: str, limit: int = 2) -> Sequence[Patient]:
        # Exact match on the number as stored: a practice that keeps "030 1234567" is not found by +4930….
        return (await self._seen(await self.fhir.search("Patient", {"phone": phone}, count=limit)))[:limit]

    async def by_ids(self, patient_ids: Sequence[uuid.UUID]) -> Sequence[Patient]:
        fhir_ids = await self.repo.fhir_ids(patient_ids)
        if not fhir_ids:
            return []
        known = [self.index.get(i) for i in fhir_ids.values()] if self.index is not None else [None]
        if all(r is not None for r in known):  # each in this process's index: no request to the server
            return await self._seen([r for r in known if r is not None])
        return await self._seen(
            await self.fhir.search("Patient", {"_id": ",".join(sorted(fhir_ids.values()))})
        )

    async def get(self, patient_id: uuid.UUID) -> Patient | None:
        fhir_id = (await self.repo.fhir_ids([patient_id])).get(patient_id)
        if fhir_id is None:
            return None
        known = self.index.get(fhir_id) if self.index is not None else None
        found = [known] if known is not None else await self.fhir.search("Patient", {"_id": fhir_id})
        if not found:
            return None  # deleted or merged away on the server
        consent = await self._sms_consent(fhir_id)
        return to_patient(found[0], consent)

    async def fhir_id(self, patient_id: uuid.UUID) -> str | None:
        return (await self.repo.fhir_ids([patient_id])).get(patient_id)

    async def get_many(self, patient_ids: Sequence[uuid.UUID]) -> Sequence[Patient]:
        found = [await self.get(patient_id) for patient_id in patient_ids]  # each with its Consent
        return [patient for patient in found if patient is not None]

    async def patient_of(self, patient_id: uuid.UUID | None) -> Patient | None:
        if patient_id is None:
            return None
        found = await self.by_ids([patient_id])
        return found[0] if found else None

    async def add(self, patient: Patient) -> Patient:
        key = registration_key(patient)
        local = f"urn:uuid:{uuid.uuid4()}"
        subject = {"reference": local}
        entries = [
            _entry(patient_resource(patient, key), key, local),
            _entry(coverage_resource(patient.insurance, key, subject), key),
        ]
        if patient.sms_consent:
            entries.append(
                _entry(consent_resource(True, patient.sms_consent_at or utcnow(), key, subject), key)
            )
        answers = await self.fhir.transaction(entries)
        stored = answers[0].get("resource") or {}
        location = answers[0]["response"].get("location") or ""
        fhir_id = stored.get("id") or location.split("Patient/", 1)[1].split("/", 1)[0]
        patient.id = patient_id_of(fhir_id)
        await self.repo.link_fhir_patients({patient.id: fhir_id})
        return patient

    async def count(self) -> int:
        return await self.fhir.count("Patient", {})

    async def last_names(self) -> Sequence[str] | None:
        try:
            resources = await self.fhir.search("Patient", {"_elements": "name"})
        except FhirIncomplete:
            return None
        return sorted({name[1] for resource in resources if (name := _name(resource))})

    async def set_sms_consent(self, patient: Patient, consent: bool, now: dt.datetime) -> None:
        """The patient's SMS Consent says permit or deny from now on (one Consent per patient, updated)."""
        fhir_id = (await self.repo.fhir_ids([patient.id]))[patient.id]
        current = await self._sms_consent(fhir_id)
        subject = reference("Patient", fhir_id)
        if current is None:
            key = str(uuid.uuid5(PATIENT_NAMESPACE, f"sms-consent|{fhir_id}"))
            await self.fhir.create(
                consent_resource(consent, now, key, subject),
                if_none_exist={"identifier": token(codes.IGNIS_REGISTRATION, key)},
            )
        else:
            changed = {
                **current,
                "dateTime": now.isoformat(),
                "provision": {"type": "permit" if consent else "deny"},
            }
            await self.fhir.update(changed, if_match=version_of(current))
        patient.sms_consent, patient.sms_consent_at = consent, now if consent else None

    async def _sms_consent(self, fhir_id: str) -> Resource | None:
        """The patient's SMS Consent, the latest if the practice keeps several."""
        found: list[dict[str, Any]] = await self.fhir.search(
            "Consent", {"patient": f"Patient/{fhir_id}", "category": token(codes.IGNIS_CONSENT, "sms")}
        )
        return max(found, key=lambda c: str(c.get("dateTime") or ""), default=None)


def repository(
    session: AsyncSession, fhir: FhirClient | None, index: PatientIndex | None = None
) -> PatientRepository:
    """The unit of work's repository, its patients on the FHIR server when the service runs with one."""
    repo = PatientRepository(session)
    if fhir is not None:
        repo.records = FhirPatientRecords(fhir, repo, index)
    return repo
