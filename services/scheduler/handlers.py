"""Bus entry points of the scheduler: translation and dependency injection only."""

import uuid
from typing import Annotated

from faststream import Depends
from faststream.nats import NatsBroker, NatsRouter
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.contracts import subjects
from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.patients import (
    ErasePatient,
    PatientErased,
    PatientErasedHere,
    PatientRefResolved,
    ResolvePatientRef,
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
from ignis.kit.errors import NotVerified, Unavailable
from ignis.scheduler import agenda, booking, fhir_records, offers, practice_info, waitlist
from ignis.scheduler.calendar import Calendar
from ignis.scheduler.fhir_records import FhirCalendar
from ignis.scheduler.repository import AppointmentRepository
from ignis.scheduler.rules import Patient

router = NatsRouter()
responds = responder(router, "scheduler")
# Well inside the gateway's budget, so the caller hears `unavailable` rather than the gateway timing out.
PATIENTS_TIMEOUT_SECONDS = 2.0
_RESOLVED: TypeAdapter[PatientRefResolved | ErrorReply] = TypeAdapter(PatientRefResolved | ErrorReply)
_FILED: TypeAdapter[RequestFiled | ErrorReply] = TypeAdapter(RequestFiled | ErrorReply)


async def get_repository(
    session: Session, fhir: FhirCalendar | None = Context("fhir_calendar", default=None)
) -> AppointmentRepository:
    return fhir_records.repository(session, fhir)


async def get_autocommit_repository(
    session: AutocommitSession, fhir: FhirCalendar | None = Context("fhir_calendar", default=None)
) -> AppointmentRepository:
    return fhir_records.repository(session, fhir)


Repository = Annotated[AppointmentRepository, Depends(get_repository)]
AutocommitRepository = Annotated[AppointmentRepository, Depends(get_autocommit_repository)]
CalendarDep = Annotated[Calendar, Context("calendar")]


async def verified(
    conversation_id: str, patient_ref: str, broker: NatsBroker, repo: AppointmentRepository
) -> Patient:
    """Ask the patients service whose ref this is, with what the practice's rules need to know; only a ref
    verified in this conversation acts. In FHIR record mode the repository learns the patient's FHIR id.

    No answer in time raises `Unavailable`, which the caller hears as such.
    """
    query = ResolvePatientRef(conversation_id=conversation_id, patient_ref=patient_ref)
    reply = await ask(broker, query, subjects.PATIENTS_RESOLVE_REF, _RESOLVED, PATIENTS_TIMEOUT_SECONDS)
    if isinstance(reply, PatientRefResolved):
        patient = Patient.of(reply)
        repo.know_patient(patient.id, reply.fhir_patient_id)
        return patient
    if reply.code is ErrorCode.not_verified:
        raise NotVerified("ref not valid in this conversation")
    raise Unavailable("patients service failed")


async def verified_patient(cmd: PatientCommand, broker: NatsBroker, repo: AppointmentRepository) -> uuid.UUID:
    return (await verified(cmd.conversation_id, cmd.patient_ref, broker, repo)).id


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
        if reply.code is ErrorCode.not_verified:
            raise NotVerified("ref not valid in this conversation")
        raise Unavailable("patients service failed")

    return file


@responds(subjects.SCHEDULER_FIND_SLOTS)
async def find_slots(
    cmd: FindSlots, repo: AutocommitRepository, calendar: CalendarDep, broker: Broker
) -> SlotsOffered | NoSlotsFound | VisitTypeUnknown | NotOffered | ErrorReply:
    patient = await verified(cmd.conversation_id, cmd.patient_ref, broker, repo) if cmd.patient_ref else None
    return await offers.find_slots(repo, calendar, cmd, utcnow(), patient)


@responds(subjects.SCHEDULER_BOOK)
async def book_appointment(
    cmd: BookAppointment, repo: Repository, calendar: CalendarDep, broker: Broker
) -> AppointmentConfirmed | SlotTaken | NotOffered:
    patient = await verified(cmd.conversation_id, cmd.patient_ref, broker, repo)
    return await booking.book(repo, calendar, cmd, patient, utcnow())


@responds(subjects.SCHEDULER_LIST)
async def list_appointments(
    cmd: ListAppointments, repo: AutocommitRepository, calendar: CalendarDep, broker: Broker
) -> AppointmentList:
    patient_id = await verified_patient(cmd, broker, repo)
    return await booking.list_appointments(repo, calendar, patient_id, utcnow())


@responds(subjects.SCHEDULER_CANCEL)
async def cancel_appointment(
    cmd: CancelAppointment, repo: Repository, calendar: CalendarDep, broker: Broker
) -> CancellationConfirmed | ChangeRequested:
    patient_id = await verified_patient(cmd, broker, repo)
    return await booking.cancel(repo, calendar, cmd, patient_id, utcnow(), staff_request(cmd, broker))


@responds(subjects.SCHEDULER_RESCHEDULE)
async def reschedule_appointment(
    cmd: RescheduleAppointment, repo: Repository, calendar: CalendarDep, broker: Broker
) -> RescheduleConfirmed | SlotTaken | ChangeRequested:
    patient_id = await verified_patient(cmd, broker, repo)
    return await booking.reschedule(repo, calendar, cmd, patient_id, utcnow(), staff_request(cmd, broker))


@responds(subjects.SCHEDULER_WAITLIST_JOIN)
async def join_waitlist(
    cmd: JoinWaitlist, repo: Repository, calendar: CalendarDep, broker: Broker
) -> WaitlistJoined | VisitTypeUnknown | NotOffered | ErrorReply:
    patient = await verified(cmd.conversation_id, cmd.patient_ref, broker, repo)
    return await offers.join_waitlist(repo, calendar, cmd, patient, utcnow())


@responds(subjects.SCHEDULER_WAITLIST_LIST)
async def list_waitlist(
    query: ListWaitlist, repo: AutocommitRepository, calendar: CalendarDep
) -> WaitlistPage:
    return await waitlist.staff_list(repo, calendar, query, utcnow())


@responds(subjects.SCHEDULER_PATIENT_APPOINTMENTS)
async def patient_appointments(
    query: ListPatientAppointments, repo: AutocommitRepository, calendar: CalendarDep
) -> AppointmentList:
    return await booking.list_appointments(repo, calendar, query.patient_id, utcnow())


@responds(subjects.SCHEDULER_STAFF_CANCEL)
async def staff_cancel(
    cmd: StaffCancelAppointment, repo: Repository, calendar: CalendarDep
) -> CancellationConfirmed | ChangeRequested:
    return await booking.cancel(repo, calendar, cmd, None, utcnow(), None)


@responds(subjects.SCHEDULER_STAFF_RESCHEDULE)
async def staff_reschedule(
    cmd: StaffRescheduleAppointment, repo: Repository, calendar: CalendarDep
) -> RescheduleConfirmed | SlotTaken | ChangeRequested:
    return await booking.reschedule(repo, calendar, cmd, None, utcnow(), None)


@responds(subjects.SCHEDULER_PRACTICE_INFO)
async def tell_practice_info(cmd: GetPracticeInfo, calendar: CalendarDep) -> PracticeInfo:
    return practice_info.practice_info(calendar, cmd, utcnow())


@responds(subjects.SCHEDULER_DAY)
async def day_appointments(
    query: ListDayAppointments, repo: AutocommitRepository, calendar: CalendarDep
) -> DayAppointments:
    return await agenda.day_appointments(repo, calendar, query)


async def _erase(session: AsyncSession, erasure: PatientErased | ErasePatient) -> dict[str, int]:
    """Their appointments and waiting-list entries, and the events naming them that the outbox keeps."""
    repo = AppointmentRepository(session)
    appointments = await repo.erase_patient(erasure.patient_id)
    waiting = await repo.erase_waitlist(erasure.patient_id)
    return {
        "appointments": appointments,
        "waitlist": waiting,
        "events": await repo.erase_events(erasure.patient_id),
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
