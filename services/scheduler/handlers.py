"""Bus entry points of the scheduler: translation and dependency injection only."""

import uuid
from typing import Annotated

from faststream import Depends
from faststream.nats import NatsBroker, NatsRouter
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.contracts import subjects
from ignis.contracts.base import ErrorReply
from ignis.contracts.patients import (
    ErasePatient,
    FhirPatientId,
    GetFhirPatientId,
    PatientErased,
    PatientErasedHere,
)
from ignis.contracts.requests import CreateRequest, RequestFiled, RequestKind
from ignis.contracts.scheduling import (
    AppointmentConfirmed,
    AppointmentList,
    BookAppointment,
    CancelAppointment,
    CancellationConfirmed,
    ChangeRequested,
    DayAppointments,
    FindSlots,
    GetPracticeInfo,
    JoinWaitlist,
    ListAppointments,
    ListDayAppointments,
    ListPatientAppointments,
    ListWaitlist,
    NoSlotsFound,
    NotOffered,
    PatientCommand,
    PracticeInfo,
    RescheduleAppointment,
    RescheduleConfirmed,
    SlotsOffered,
    SlotTaken,
    StaffCancelAppointment,
    StaffRescheduleAppointment,
    VisitTypeUnknown,
    WaitlistJoined,
    WaitlistPage,
)
from ignis.kit.bus import ask, responder
from ignis.kit.clock import utcnow
from ignis.kit.context import Broker, Context
from ignis.kit.db import AutocommitSession, Session
from ignis.kit.erasure import subscribe_erasures
from ignis.kit.errors import Unavailable
from ignis.scheduler import agenda, booking, fhir_records, offers, practice_info, waitlist
from ignis.scheduler.calendar import Calendar
from ignis.scheduler.fhir_records import FhirCalendar
from ignis.scheduler.records import Records
from ignis.scheduler.refs import ResolvedRefs, refusal
from ignis.scheduler.repository import AppointmentRepository, WaitlistRepository
from ignis.scheduler.rules import Patient

router = NatsRouter()
responds = responder(router, "scheduler")
# Well inside the gateway's budget, so the caller hears `unavailable` rather than the gateway timing out.
PATIENTS_TIMEOUT_SECONDS = 2.0
_FHIR_ID: TypeAdapter[FhirPatientId | ErrorReply] = TypeAdapter(FhirPatientId | ErrorReply)
_FILED: TypeAdapter[RequestFiled | ErrorReply] = TypeAdapter(RequestFiled | ErrorReply)
# The patients service's answers for refs, used again for a conversation's next calls (`refs`).
resolved_refs = ResolvedRefs()


async def get_repository(
    session: Session, fhir: FhirCalendar | None = Context("fhir_calendar", default=None)
) -> Records:
    return fhir_records.records(session, fhir)


async def get_autocommit_repository(
    session: AutocommitSession, fhir: FhirCalendar | None = Context("fhir_calendar", default=None)
) -> Records:
    return fhir_records.records(session, fhir)


Repository = Annotated[Records, Depends(get_repository)]
AutocommitRepository = Annotated[Records, Depends(get_autocommit_repository)]
CalendarDep = Annotated[Calendar, Context("calendar")]
FhirCalendarDep = Annotated[FhirCalendar | None, Context("fhir_calendar", default=None)]


async def verified(
    conversation_id: str, patient_ref: str, broker: NatsBroker, records: Records, *, reading: bool = False
) -> Patient:
    """Whose ref this is, with what the practice's rules need to know (`refs.ResolvedRefs.resolve`: only a
    ref verified in this conversation acts; a call that only reads may use an earlier answer). In FHIR
    record mode the repository learns the patient's FHIR id."""
    resolved = await resolved_refs.resolve(
        broker, conversation_id, patient_ref, reading=reading, within_seconds=PATIENTS_TIMEOUT_SECONDS
    )
    patient = Patient.of(resolved)
    records.appointments.know_patient(patient.id, resolved.fhir_patient_id)
    return patient


async def verified_patient(
    cmd: PatientCommand, broker: NatsBroker, records: Records, *, reading: bool = False
) -> uuid.UUID:
    return (await verified(cmd.conversation_id, cmd.patient_ref, broker, records, reading=reading)).id


def staff_request(cmd: PatientCommand, broker: NatsBroker) -> booking.StaffRequest:
    """A late change the practice wants to confirm itself: a callback request in the team's queue (the
    patients service owns it), urgent because the appointment is near. The same wish asked again in the
    same conversation files nothing new (the patients service recognises it)."""

    async def file(details: str) -> str:
        request = CreateRequest(
            conversation_id=cmd.conversation_id,
            kind=RequestKind.rueckruf,
            details=details,
            patient_ref=cmd.patient_ref,
            urgent=True,
        )
        reply = await ask(broker, request, subjects.PATIENTS_REQUEST_CREATE, _FILED, PATIENTS_TIMEOUT_SECONDS)
        if isinstance(reply, RequestFiled):
            return reply.request_id
        raise refusal(reply)

    return file


@responds(subjects.SCHEDULER_FIND_SLOTS)
async def find_slots(
    cmd: FindSlots, records: AutocommitRepository, calendar: CalendarDep, broker: Broker
) -> SlotsOffered | NoSlotsFound | VisitTypeUnknown | NotOffered | ErrorReply:
    ref = cmd.patient_ref
    patient = await verified(cmd.conversation_id, ref, broker, records, reading=True) if ref else None
    return await offers.find_slots(records, calendar, cmd, utcnow(), patient)


@responds(subjects.SCHEDULER_BOOK)
async def book_appointment(
    cmd: BookAppointment, records: Repository, calendar: CalendarDep, broker: Broker
) -> AppointmentConfirmed | SlotTaken | NotOffered:
    patient = await verified(cmd.conversation_id, cmd.patient_ref, broker, records)
    return await booking.book(records, calendar, cmd, patient, utcnow())


@responds(subjects.SCHEDULER_LIST)
async def list_appointments(
    cmd: ListAppointments, records: AutocommitRepository, calendar: CalendarDep, broker: Broker
) -> AppointmentList:
    patient_id = await verified_patient(cmd, broker, records, reading=True)
    return await booking.list_appointments(records, calendar, patient_id, utcnow())


@responds(subjects.SCHEDULER_CANCEL)
async def cancel_appointment(
    cmd: CancelAppointment, records: Repository, calendar: CalendarDep, broker: Broker
) -> CancellationConfirmed | ChangeRequested:
    patient_id = await verified_patient(cmd, broker, records)
    return await booking.cancel(records, calendar, cmd, patient_id, utcnow(), staff_request(cmd, broker))


@responds(subjects.SCHEDULER_RESCHEDULE)
async def reschedule_appointment(
    cmd: RescheduleAppointment, records: Repository, calendar: CalendarDep, broker: Broker
) -> RescheduleConfirmed | SlotTaken | ChangeRequested:
    patient_id = await verified_patient(cmd, broker, records)
    return await booking.reschedule(records, calendar, cmd, patient_id, utcnow(), staff_request(cmd, broker))


@responds(subjects.SCHEDULER_WAITLIST_JOIN)
async def join_waitlist(
    cmd: JoinWaitlist, records: Repository, calendar: CalendarDep, broker: Broker
) -> WaitlistJoined | VisitTypeUnknown | NotOffered | ErrorReply:
    patient = await verified(cmd.conversation_id, cmd.patient_ref, broker, records)
    return await offers.join_waitlist(records, calendar, cmd, patient, utcnow())


@responds(subjects.SCHEDULER_WAITLIST_LIST)
async def list_waitlist(
    query: ListWaitlist, records: AutocommitRepository, calendar: CalendarDep
) -> WaitlistPage:
    return await waitlist.staff_list(records, calendar, query, utcnow())


@responds(subjects.SCHEDULER_PATIENT_APPOINTMENTS)
async def patient_appointments(
    query: ListPatientAppointments,
    records: AutocommitRepository,
    calendar: CalendarDep,
    broker: Broker,
    fhir: FhirCalendarDep,
) -> AppointmentList:
    """In FHIR record mode the appointments are found by the patient's FHIR id, which the patients service
    keeps (the staff app knows the Ignis id only)."""
    if fhir is not None:
        query_id = GetFhirPatientId(patient_id=query.patient_id)
        reply = await ask(broker, query_id, subjects.PATIENTS_FHIR_ID, _FHIR_ID, PATIENTS_TIMEOUT_SECONDS)
        if isinstance(reply, ErrorReply):
            raise Unavailable("patients service failed")
        records.appointments.know_patient(query.patient_id, reply.fhir_patient_id)
    return await booking.list_appointments(records, calendar, query.patient_id, utcnow())


@responds(subjects.SCHEDULER_STAFF_CANCEL)
async def staff_cancel(
    cmd: StaffCancelAppointment, records: Repository, calendar: CalendarDep
) -> CancellationConfirmed | ChangeRequested:
    return await booking.cancel(records, calendar, cmd, None, utcnow(), None)


@responds(subjects.SCHEDULER_STAFF_RESCHEDULE)
async def staff_reschedule(
    cmd: StaffRescheduleAppointment, records: Repository, calendar: CalendarDep
) -> RescheduleConfirmed | SlotTaken | ChangeRequested:
    return await booking.reschedule(records, calendar, cmd, None, utcnow(), None)


@responds(subjects.SCHEDULER_PRACTICE_INFO)
async def tell_practice_info(cmd: GetPracticeInfo, calendar: CalendarDep) -> PracticeInfo:
    return practice_info.practice_info(calendar, cmd, utcnow())


@responds(subjects.SCHEDULER_DAY)
async def day_appointments(
    query: ListDayAppointments, records: AutocommitRepository, calendar: CalendarDep
) -> DayAppointments:
    return await agenda.day_appointments(records, calendar, query)


async def _erase(session: AsyncSession, erasure: PatientErased | ErasePatient) -> dict[str, int]:
    """Their appointments and waiting-list entries, and the events naming them that the outbox keeps."""
    resolved_refs.forget_patient(str(erasure.patient_id))
    # In FHIR record mode the appointments are the practice's record on its server and stay there; Ignis'
    # own table has none then.
    appointments = await AppointmentRepository(session).erase_patient(erasure.patient_id)
    own = WaitlistRepository(session)
    waiting = await own.erase_waitlist(erasure.patient_id)
    return {
        "appointments": appointments,
        "waitlist": waiting,
        "events": await own.erase_events(erasure.patient_id),
    }


subscribe_erasures(
    router,
    event=(subjects.PATIENT_ERASED, PatientErased),
    durable=subjects.SCHEDULER_ERASURES_CONSUMER,
    command=(subjects.erase_patient("scheduler"), ErasePatient),
    responds=responds,
    reply=PatientErasedHere,
    erase=_erase,
)


# Outside the queue group and the durable consumer, so that every replica hears each erasure; it never
# answers, as the message is the relay's JetStream publish, whose reply inbox waits for JetStream's ack.
@router.subscriber(subjects.PATIENT_ERASED, no_reply=True)
async def forget_erased(erasure: PatientErased) -> None:
    """This replica's kept answers for the erased patient are no longer used (`refs`)."""
    resolved_refs.forget_patient(str(erasure.patient_id))
