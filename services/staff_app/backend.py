"""What the staff app asks the services over NATS: the staff subjects of `contracts`, typed both ways."""

import datetime as dt
import uuid
from typing import Any, Literal, TypeVar

from faststream.nats import NatsBroker
from pydantic import BaseModel, TypeAdapter

from ignis.contracts import subjects
from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.calls import CallDetail, CallPage, GetCall, ListCalls
from ignis.contracts.notifications import (
    Contact,
    GetContact,
    ListMessages,
    MessageItem,
    MessagePage,
    MessageRetried,
    MessageStatus,
    RetryMessage,
    SetSmsConsent,
    SmsConsentSet,
)
from ignis.contracts.patients import (
    ErasePatient,
    GetPatientNames,
    IdentityLocks,
    IdentityUnlocked,
    ListIdentityLocks,
    PatientErasedHere,
    PatientNames,
    UnlockIdentity,
)
from ignis.contracts.requests import (
    ClaimRequest,
    CompleteRequest,
    ListRequests,
    RequestItem,
    RequestKind,
    RequestPage,
    RequestUpdated,
)
from ignis.contracts.scheduling import (
    AppointmentInfo,
    AppointmentList,
    CancellationConfirmed,
    ChangeRequested,
    DayAppointments,
    FindSlots,
    ListDayAppointments,
    ListPatientAppointments,
    NoSlotsFound,
    NotOffered,
    RescheduleConfirmed,
    SlotOffer,
    SlotsOffered,
    SlotTaken,
    StaffCancelAppointment,
    StaffRescheduleAppointment,
    VisitTypeUnknown,
)
from ignis.kit.bus import ask
from ignis.kit.errors import ServiceError

T = TypeVar("T")
# Built once: a TypeAdapter compiles its validator.
_PATIENT_ERASED_HERE: TypeAdapter[PatientErasedHere | ErrorReply] = TypeAdapter(
    PatientErasedHere | ErrorReply
)
_REQUEST_PAGE: TypeAdapter[RequestPage | ErrorReply] = TypeAdapter(RequestPage | ErrorReply)
_REQUEST_UPDATED: TypeAdapter[RequestUpdated | ErrorReply] = TypeAdapter(RequestUpdated | ErrorReply)
_CALL_PAGE: TypeAdapter[CallPage | ErrorReply] = TypeAdapter(CallPage | ErrorReply)
_CALL_DETAIL: TypeAdapter[CallDetail | ErrorReply] = TypeAdapter(CallDetail | ErrorReply)
_MESSAGE_PAGE: TypeAdapter[MessagePage | ErrorReply] = TypeAdapter(MessagePage | ErrorReply)
_MESSAGE_RETRIED: TypeAdapter[MessageRetried | ErrorReply] = TypeAdapter(MessageRetried | ErrorReply)
_PATIENT_NAMES: TypeAdapter[PatientNames | ErrorReply] = TypeAdapter(PatientNames | ErrorReply)
_CONTACT: TypeAdapter[Contact | ErrorReply] = TypeAdapter(Contact | ErrorReply)
_SMS_CONSENT_SET: TypeAdapter[SmsConsentSet | ErrorReply] = TypeAdapter(SmsConsentSet | ErrorReply)
_DAY_APPOINTMENTS: TypeAdapter[DayAppointments | ErrorReply] = TypeAdapter(DayAppointments | ErrorReply)
_APPOINTMENT_LIST: TypeAdapter[AppointmentList | ErrorReply] = TypeAdapter(AppointmentList | ErrorReply)
# `ChangeRequested` is a caller's late wish filed for the team; the team's own commands never get it.
_CANCELLED: TypeAdapter[CancellationConfirmed | ChangeRequested | ErrorReply] = TypeAdapter(
    CancellationConfirmed | ChangeRequested | ErrorReply
)
_MOVED: TypeAdapter[RescheduleConfirmed | SlotTaken | ChangeRequested | ErrorReply] = TypeAdapter(
    RescheduleConfirmed | SlotTaken | ChangeRequested | ErrorReply
)
_SLOTS: TypeAdapter[SlotsOffered | NoSlotsFound | VisitTypeUnknown | NotOffered | ErrorReply] = TypeAdapter(
    SlotsOffered | NoSlotsFound | VisitTypeUnknown | NotOffered | ErrorReply
)
# `find_slots` is the callers' query and names its conversation; the staff app's searches are this one.
STAFF_CONVERSATION = "praxis-app"
_IDENTITY_LOCKS: TypeAdapter[IdentityLocks | ErrorReply] = TypeAdapter(IdentityLocks | ErrorReply)
_IDENTITY_UNLOCKED: TypeAdapter[IdentityUnlocked | ErrorReply] = TypeAdapter(IdentityUnlocked | ErrorReply)


class BackendError(Exception):
    """A service answered with an error (e.g. `conflict`) or did not answer (`unavailable`)."""

    def __init__(self, code: ErrorCode) -> None:
        super().__init__(code.value)
        self.code = code


class Backend:
    def __init__(self, broker: NatsBroker, within_seconds: float) -> None:
        self.broker = broker
        self.within_seconds = within_seconds

    async def _ask(self, subject: str, query: BaseModel, adapter: TypeAdapter[T | ErrorReply]) -> T:
        try:
            answer = await ask(self.broker, query, subject, adapter, self.within_seconds)
        except ServiceError as exc:
            raise BackendError(exc.code) from None
        if isinstance(answer, ErrorReply):
            raise BackendError(answer.code)
        return answer

    async def requests(self, kind: RequestKind | None) -> list[RequestItem]:
        """Open and claimed requests (who has what), urgent first, then oldest."""
        items: list[RequestItem] = []
        statuses: tuple[Literal["open", "claimed"], ...] = ("open", "claimed")
        for status in statuses:
            page = await self._ask(
                subjects.PATIENTS_REQUEST_LIST,
                ListRequests(status=status, request_kind=kind, limit=100),
                _REQUEST_PAGE,
            )
            items.extend(page.items)
        return sorted(items, key=lambda item: (not item.urgent, item.created_at))

    async def claim(self, request_id: str, by: str) -> RequestItem:
        updated = await self._ask(
            subjects.PATIENTS_REQUEST_CLAIM, ClaimRequest(request_id=request_id, by=by), _REQUEST_UPDATED
        )
        return updated.request

    async def complete(self, request_id: str, by: str, note: str | None) -> RequestItem:
        command = CompleteRequest(request_id=request_id, by=by, note=note)
        updated = await self._ask(subjects.PATIENTS_REQUEST_COMPLETE, command, _REQUEST_UPDATED)
        return updated.request

    async def calls(self, cursor: str | None = None, limit: int = 30) -> CallPage:
        return await self._ask(
            subjects.PATIENTS_CALLS_LIST, ListCalls(limit=limit, cursor=cursor), _CALL_PAGE
        )

    async def call(self, conversation_id: str) -> CallDetail:
        return await self._ask(
            subjects.PATIENTS_CALLS_GET, GetCall(conversation_id=conversation_id), _CALL_DETAIL
        )

    async def messages(
        self, status: MessageStatus | None = None, patient_id: uuid.UUID | None = None, limit: int = 50
    ) -> list[MessageItem]:
        query = ListMessages(status=status, patient_id=patient_id, limit=limit)
        return (await self._ask(subjects.NOTIFIER_MESSAGES_LIST, query, _MESSAGE_PAGE)).items

    async def retry(self, message_id: uuid.UUID) -> MessageItem:
        retried = await self._ask(
            subjects.NOTIFIER_MESSAGE_RETRY, RetryMessage(message_id=message_id), _MESSAGE_RETRIED
        )
        return retried.message

    async def names(self, patient_ids: set[str]) -> dict[str, str]:
        if not patient_ids:
            return {}
        query = GetPatientNames(patient_ids=sorted(patient_ids))
        return (await self._ask(subjects.PATIENTS_NAMES, query, _PATIENT_NAMES)).names

    async def contact(self, patient_id: uuid.UUID) -> Contact:
        return await self._ask(subjects.PATIENTS_CONTACT, GetContact(patient_id=patient_id), _CONTACT)

    async def set_sms_consent(self, patient_id: uuid.UUID, consent: bool) -> SmsConsentSet:
        command = SetSmsConsent(patient_id=patient_id, sms_consent=consent)
        return await self._ask(subjects.PATIENTS_SMS_CONSENT, command, _SMS_CONSENT_SET)

    async def day(self, day: Any) -> DayAppointments:
        return await self._ask(
            subjects.SCHEDULER_DAY, ListDayAppointments(day=day, limit=200), _DAY_APPOINTMENTS
        )

    async def appointments(self, patient_id: uuid.UUID) -> list[AppointmentInfo]:
        """The patient's upcoming booked appointments."""
        query = ListPatientAppointments(patient_id=patient_id)
        return (
            await self._ask(subjects.SCHEDULER_PATIENT_APPOINTMENTS, query, _APPOINTMENT_LIST)
        ).appointments

    async def free_slots(self, visit_type: str, practitioner: str, earliest: dt.date) -> list[SlotOffer]:
        """The next free slots of this visit type with this practitioner, from `earliest` on."""
        query = FindSlots(
            conversation_id=STAFF_CONVERSATION,
            visit_type=visit_type,
            practitioner=practitioner,
            earliest=earliest,
            limit=5,
        )
        found: SlotsOffered | NoSlotsFound | VisitTypeUnknown | NotOffered = await self._ask(
            subjects.SCHEDULER_FIND_SLOTS, query, _SLOTS
        )
        return found.slots if isinstance(found, SlotsOffered) else []

    async def cancel_appointment(self, appointment_id: str) -> None:
        command = StaffCancelAppointment(appointment_id=appointment_id)
        done: CancellationConfirmed | ChangeRequested = await self._ask(
            subjects.SCHEDULER_STAFF_CANCEL, command, _CANCELLED
        )
        if isinstance(done, ChangeRequested):
            raise BackendError(ErrorCode.internal)  # the team files no request to itself

    async def move_appointment(self, appointment_id: str, slot_id: str) -> RescheduleConfirmed | SlotTaken:
        command = StaffRescheduleAppointment(appointment_id=appointment_id, new_slot_id=slot_id)
        moved: RescheduleConfirmed | SlotTaken | ChangeRequested = await self._ask(
            subjects.SCHEDULER_STAFF_RESCHEDULE, command, _MOVED
        )
        if isinstance(moved, ChangeRequested):
            raise BackendError(ErrorCode.internal)  # the team files no request to itself
        return moved

    async def identity_locks(self) -> IdentityLocks:
        return await self._ask(subjects.PATIENTS_LOCKS_LIST, ListIdentityLocks(), _IDENTITY_LOCKS)

    async def unlock(self, scope: Literal["caller", "name"], key: str) -> IdentityUnlocked:
        command = UnlockIdentity(scope=scope, key=key)
        return await self._ask(subjects.PATIENTS_LOCKS_UNLOCK, command, _IDENTITY_UNLOCKED)

    async def erase(self, patient_id: uuid.UUID) -> dict[str, int]:
        """GDPR Art. 17 in the patients service (the others follow its `patient.erased`); what it removed."""
        command = ErasePatient(patient_id=patient_id)
        return (await self._ask(subjects.erase_patient("patients"), command, _PATIENT_ERASED_HERE)).counts
