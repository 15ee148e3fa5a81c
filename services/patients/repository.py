"""The only module of the patients service that runs SQL. It flushes, never commits."""

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    and_,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.kit.db import Repository
from ignis.patients.models import (
    SCHEMA,
    Call,
    FhirPatient,
    IdentityAttempt,
    IdentityUnlock,
    Patient,
    Request,
    VendorDeletion,
    Verification,
)
from ignis.patients.records import PatientRecords


@dataclass
class BudgetUsage:
    """Attempts counted against each identification budget within the window."""

    conversation: int = 0
    registrations: int = 0
    caller: int = 0
    names: dict[str, int] = field(default_factory=dict)


class PatientRepository(Repository):
    """Ignis' own rows of the patients service, and (in the default record mode) the patients themselves:
    `records` is where the patients are, this repository itself unless the FHIR server holds them."""

    schema = SCHEMA

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self.records: PatientRecords = self
        self.cached = False

    async def _patients(self, patient_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, Patient]:
        """The patients of these ids, wherever the records are (rows here link to them by id only)."""
        patients = await self.records.by_ids(list({i for i in patient_ids if i is not None}))
        return {patient.id: patient for patient in patients}

    async def by_birth_date(self, birth_date: dt.date, fresh: bool = False) -> Sequence[Patient]:
        result = await self.session.execute(select(Patient).where(Patient.birth_date == birth_date))
        return result.scalars().all()

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

    async def lock_budgets(self, keys: Sequence[int]) -> None:
        """Serialise every attempt that shares a budget (taken in the given, sorted order: no deadlock), so
        concurrent guesses are counted one after another and cannot exceed it."""
        await self.session.execute(
            text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k"),
            {"keys": list(keys)},
        )

    async def budget_usage(
        self, conversation_id: str, caller_key: str, name_codes: Sequence[str], since: dt.datetime
    ) -> BudgetUsage:
        """What the conversation, the caller number and each name code have used since `since` (and since
        staff last unlocked it), in one round trip."""
        rows = (
            await self.session.execute(
                text(
                    """
            SELECT 'conversation', '', count(*), count(*) FILTER (WHERE kind = 'registered')
              FROM patients.identity_attempt WHERE conversation_id = :conversation AND attempted_at > :since
            UNION ALL
            SELECT 'caller', :caller, count(*), 0 FROM patients.identity_attempt
             WHERE caller_key = :caller AND attempted_at > greatest(:since, (
                   SELECT unlocked_at FROM patients.identity_unlock WHERE scope = 'caller' AND key = :caller))
            UNION ALL
            SELECT 'name', code, count(a.id), 0 FROM unnest(CAST(:codes AS text[])) AS code
              LEFT JOIN patients.identity_attempt a ON code = ANY(a.name_codes) AND a.attempted_at > greatest(
                   :since, (SELECT unlocked_at FROM patients.identity_unlock u
                             WHERE u.scope = 'name' AND u.key = code))
             GROUP BY code
            """
                ),
                {
                    "conversation": conversation_id,
                    "caller": caller_key,
                    "codes": list(name_codes),
                    "since": since,
                },
            )
        ).all()
        usage = BudgetUsage()
        for scope, key, count, registered in rows:
            if scope == "conversation":
                usage.conversation, usage.registrations = int(count), int(registered)
            elif scope == "caller":
                usage.caller = int(count)
            else:
                usage.names[key] = int(count)
        return usage

    async def add_attempt(self, attempt: IdentityAttempt) -> None:
        self.session.add(attempt)
        await self.session.flush()

    async def verified_in(self, conversation_id: str) -> Sequence[tuple[str, Patient]]:
        """(ref, patient) of every patient verified in this conversation."""
        query = select(Verification.patient_ref, Verification.patient_id).where(
            Verification.conversation_id == conversation_id
        )
        rows = (await self.session.execute(query)).all()
        patients = await self._patients(patient_id for _, patient_id in rows)
        return [(ref, patients[patient_id]) for ref, patient_id in rows if patient_id in patients]

    async def registered_in(self, conversation_id: str, name_said: str) -> bool:
        """Whether this conversation registered a new patient of this (normalised) last name."""
        query = select(IdentityAttempt.id).where(
            IdentityAttempt.conversation_id == conversation_id,
            IdentityAttempt.kind == "registered",
            IdentityAttempt.name_said == name_said,
        )
        return await self.session.scalar(query.limit(1)) is not None

    async def last_names(self) -> Sequence[str] | None:
        """Every distinct last name (for the rare check whether a locked name is one a patient has)."""
        return (await self.session.execute(select(Patient.last_name).distinct())).scalars().all()

    async def set_sms_consent(self, patient: Patient, consent: bool, now: dt.datetime) -> None:
        patient.sms_consent = consent
        patient.sms_consent_at = now if consent else None
        await self.session.flush()

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

    async def budget_locks(
        self, since: dt.datetime, caller_limit: int, name_limit: int
    ) -> Sequence[Row[Any]]:
        """Callers and name codes at or over their limit: (scope, key, failures, names said, and the time of
        the attempt whose leaving the window lifts the lock)."""
        return (
            await self.session.execute(
                text(
                    """
            SELECT 'caller' AS scope, a.caller_key AS key, count(*) AS failures,
                   array_agg(DISTINCT a.name_said) AS names,
                   (array_agg(a.attempted_at ORDER BY a.attempted_at))[count(*) - :caller_limit + 1]
                   AS lifting
              FROM patients.identity_attempt a
              LEFT JOIN patients.identity_unlock u ON u.scope = 'caller' AND u.key = a.caller_key
             WHERE a.attempted_at > greatest(:since, u.unlocked_at)
             GROUP BY a.caller_key HAVING count(*) >= :caller_limit
            UNION ALL
            SELECT 'name', code, count(*), array_agg(DISTINCT a.name_said),
                   (array_agg(a.attempted_at ORDER BY a.attempted_at))[count(*) - :name_limit + 1]
              FROM patients.identity_attempt a CROSS JOIN unnest(a.name_codes) AS code
              LEFT JOIN patients.identity_unlock u ON u.scope = 'name' AND u.key = code
             WHERE a.attempted_at > greatest(:since, u.unlocked_at)
             GROUP BY code HAVING count(*) >= :name_limit
             ORDER BY scope, key
            """
                ),
                {"since": since, "caller_limit": caller_limit, "name_limit": name_limit},
            )
        ).all()

    async def unlock(self, scope: str, key: str, now: dt.datetime) -> None:
        statement = (
            insert(IdentityUnlock)
            .values(scope=scope, key=key, unlocked_at=now)
            .on_conflict_do_update(
                index_elements=[IdentityUnlock.scope, IdentityUnlock.key], set_={"unlocked_at": now}
            )
        )
        await self.session.execute(statement)

    async def purge_attempts(self, before: dt.datetime) -> int:
        """Attempts and unlocks older than the budget window count for nothing: delete them."""
        statement = delete(IdentityAttempt).where(IdentityAttempt.attempted_at <= before)
        result = await self.session.execute(statement)
        await self.session.execute(delete(IdentityUnlock).where(IdentityUnlock.unlocked_at <= before))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

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

    async def patient_of_conversation(self, conversation_id: str) -> uuid.UUID | None:
        """The patient last verified in that conversation, if any."""
        return await self.session.scalar(
            select(Verification.patient_id)
            .where(Verification.conversation_id == conversation_id)
            .order_by(Verification.created_at.desc())
            .limit(1)
        )

    async def add_call(self, call: Call) -> bool:
        """Store a call record once; a redelivered event for the same conversation changes nothing, but a
        transcription replaces the record of an initiation failure (whichever came first). Whether it
        wrote."""
        columns = [c.key for c in Call.__table__.columns if c.key not in ("conversation_id", "received_at")]
        statement = insert(Call).values(
            conversation_id=call.conversation_id, **{key: getattr(call, key) for key in columns}
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Call.conversation_id],
            set_={key: statement.excluded[key] for key in columns},
            where=(Call.kind == "call_initiation_failure")
            & (statement.excluded.kind == "post_call_transcription"),
        )
        result = await self.session.execute(statement.returning(Call.conversation_id))
        return result.scalar_one_or_none() is not None

    async def get_call(self, conversation_id: str) -> Call | None:
        return await self.session.get(Call, conversation_id)

    async def recent_calls(
        self, limit: int, before: tuple[dt.datetime, str] | None
    ) -> Sequence[tuple[Call, Patient | None]]:
        """Newest first, after the keyset `before` (received_at, conversation_id) of the previous page."""
        query = select(Call)
        if before is not None:
            query = query.where(tuple_(Call.received_at, Call.conversation_id) < tuple_(*before))
        query = query.order_by(Call.received_at.desc(), Call.conversation_id.desc()).limit(limit)
        calls = (await self.session.scalars(query)).all()
        patients = await self._patients(call.patient_id for call in calls)
        return [(call, patients.get(call.patient_id) if call.patient_id else None) for call in calls]

    async def request_by_key(self, key: str) -> Request | None:
        return await self.session.scalar(select(Request).where(Request.idempotency_key == key))

    async def add_request(self, request: Request) -> Request:
        self.session.add(request)
        await self.session.flush()
        return request

    async def request_for_update(self, request_id: uuid.UUID) -> Request | None:
        return await self.session.scalar(select(Request).where(Request.id == request_id).with_for_update())

    async def requests(
        self,
        status: str | None,
        kind: str | None,
        urgent: bool | None,
        limit: int,
        after: tuple[bool, dt.datetime, uuid.UUID] | None,
    ) -> Sequence[tuple[Request, Patient | None]]:
        """The queue in working order: urgent first, then oldest first; keyset `after` for the next page."""
        query = select(Request)
        if status is not None:
            query = query.where(Request.status == status)
        if kind is not None:
            query = query.where(Request.kind == kind)
        if urgent is not None:
            query = query.where(Request.urgent == urgent)
        if after is not None:
            was_urgent, created_at, request_id = after
            # Order is (urgent desc, created_at, id): "after" means less urgent, or same urgency and later.
            later = and_(
                Request.urgent.is_(was_urgent),
                tuple_(Request.created_at, Request.id) > tuple_(created_at, request_id),
            )
            query = query.where(or_(later, Request.urgent.is_(False)) if was_urgent else later)
        query = query.order_by(Request.urgent.desc(), Request.created_at, Request.id).limit(limit)
        requests = (await self.session.scalars(query)).all()
        patients = await self._patients(request.patient_id for request in requests)
        return [(r, patients.get(r.patient_id) if r.patient_id else None) for r in requests]

    async def patient_of(self, patient_id: uuid.UUID | None) -> Patient | None:
        return await self.session.get(Patient, patient_id) if patient_id else None

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

    # Conversations at ElevenLabs: reconciliation and deletion there

    async def conversations_without_call(self, conversation_ids: Sequence[str]) -> list[str]:
        """Of these conversations, those with neither a call record nor a deletion recorded (an erased or
        expired one must not come back), in the order given."""
        if not conversation_ids:
            return []
        known = union(
            select(Call.conversation_id).where(Call.conversation_id.in_(conversation_ids)),
            select(VendorDeletion.conversation_id).where(
                VendorDeletion.conversation_id.in_(conversation_ids)
            ),
        )
        have = set((await self.session.scalars(known)).all())
        return [c for c in dict.fromkeys(conversation_ids) if c not in have]

    async def expired_conversations(self, now: dt.datetime) -> list[str]:
        return list(
            (await self.session.scalars(select(Call.conversation_id).where(Call.retain_until <= now))).all()
        )

    async def record_vendor_deletions(
        self, conversation_ids: Iterable[str], reason: str, now: dt.datetime
    ) -> None:
        rows = [{"conversation_id": c, "reason": reason, "requested_at": now} for c in conversation_ids]
        if rows:
            await self.session.execute(insert(VendorDeletion).values(rows).on_conflict_do_nothing())

    async def pending_vendor_deletions(self, conversation_ids: Sequence[str] | None = None) -> list[str]:
        """Conversations not yet deleted at ElevenLabs (of `conversation_ids`, or all), oldest first."""
        query = select(VendorDeletion.conversation_id).where(VendorDeletion.deleted_at.is_(None))
        if conversation_ids is not None:
            query = query.where(VendorDeletion.conversation_id.in_(conversation_ids))
        return list((await self.session.scalars(query.order_by(VendorDeletion.requested_at))).all())

    async def vendor_deletion_done(self, conversation_id: str, deleted: bool, now: dt.datetime) -> None:
        values: dict[str, object] = {"attempts": VendorDeletion.attempts + 1}
        if deleted:
            values["deleted_at"] = now
        await self.session.execute(
            update(VendorDeletion).where(VendorDeletion.conversation_id == conversation_id).values(**values)
        )
