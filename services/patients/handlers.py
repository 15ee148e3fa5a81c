"""Bus entry points of the patients service: translation and dependency injection only."""

from typing import Annotated, Any

from faststream import Depends
from faststream.nats import NatsRouter

from ignis.contracts import subjects
from ignis.contracts.base import ErrorReply
from ignis.contracts.calls import CallDetail, CallPage, GetCall, ListCalls
from ignis.contracts.notifications import (
    Contact,
    Contacts,
    GetContact,
    GetContacts,
    SetSmsConsent,
    SmsConsentSet,
)
from ignis.contracts.patients import (
    CallerLookedUp,
    ErasePatient,
    FhirPatientId,
    GetFhirPatientId,
    GetPatientNames,
    IdentifyPatient,
    IdentityLocks,
    IdentityUnlocked,
    ListIdentityLocks,
    LookupCaller,
    PatientAlreadyRegistered,
    PatientErasedHere,
    PatientIdentified,
    PatientNames,
    PatientRefResolved,
    PatientRegistered,
    RegisterPatient,
    ResolvePatientRef,
    UnlockIdentity,
)
from ignis.contracts.requests import (
    ClaimRequest,
    CompleteRequest,
    CreateRequest,
    ListRequests,
    RequestFiled,
    RequestPage,
    RequestUpdated,
)
from ignis.fhir.client import FhirClient
from ignis.kit.bus import durable_subscriber, responder, settle
from ignis.kit.clock import utcnow
from ignis.kit.context import Broker, Context, Message
from ignis.kit.db import AutocommitSession, Session, Sessionmaker
from ignis.patients import calls, contact, fhir_records, identity, refs, registration, requests, retention
from ignis.patients.fhir_index import PatientIndex
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings

router = NatsRouter()
responds = responder(router, "patients")


async def get_repository(
    session: Session,
    fhir: FhirClient | None = Context("fhir", default=None),
    index: PatientIndex | None = Context("patient_index", default=None),
) -> PatientRepository:
    return fhir_records.repository(session, fhir, index)


async def get_autocommit_repository(
    session: AutocommitSession,
    fhir: FhirClient | None = Context("fhir", default=None),
    index: PatientIndex | None = Context("patient_index", default=None),
) -> PatientRepository:
    return fhir_records.repository(session, fhir, index)


Repository = Annotated[PatientRepository, Depends(get_repository)]
AutocommitRepository = Annotated[PatientRepository, Depends(get_autocommit_repository)]
Settings = Annotated[PatientsSettings, Context("settings")]


@responds(subjects.PATIENTS_IDENTIFY)
async def identify_patient(
    cmd: IdentifyPatient, repo: AutocommitRepository, settings: Settings
) -> PatientIdentified | ErrorReply:
    return await identity.identify(repo, settings, cmd, utcnow())


@responds(subjects.PATIENTS_REGISTER)
async def register_patient(
    cmd: RegisterPatient, repo: Repository, settings: Settings
) -> PatientRegistered | PatientAlreadyRegistered | ErrorReply:
    return await registration.register(repo, settings, cmd, utcnow())


@responds(subjects.PATIENTS_RESOLVE_REF)
async def resolve_patient_ref(cmd: ResolvePatientRef, repo: AutocommitRepository) -> PatientRefResolved:
    return await refs.resolve_ref(repo, cmd, utcnow())


@responds(subjects.PATIENTS_REQUEST_CREATE)
async def create_request(cmd: CreateRequest, repo: Repository) -> RequestFiled:
    return await requests.create_request(repo, cmd, utcnow())


@responds(subjects.PATIENTS_REQUEST_LIST)
async def list_requests(query: ListRequests, repo: Repository) -> RequestPage:
    return await requests.list_requests(repo, query)


@responds(subjects.PATIENTS_REQUEST_CLAIM)
async def claim_request(cmd: ClaimRequest, repo: Repository) -> RequestUpdated:
    return await requests.claim_request(repo, cmd, utcnow())


@responds(subjects.PATIENTS_REQUEST_COMPLETE)
async def complete_request(cmd: CompleteRequest, repo: Repository) -> RequestUpdated:
    return await requests.complete_request(repo, cmd, utcnow())


@responds(subjects.PATIENTS_NAMES)
async def patient_names(query: GetPatientNames, repo: Repository) -> PatientNames:
    return await contact.patient_names(repo, query)


@responds(subjects.PATIENTS_LOOKUP_CALLER)
async def lookup_caller(query: LookupCaller, repo: Repository) -> CallerLookedUp:
    return await calls.lookup_caller(repo, query)


@responds(subjects.PATIENTS_CALLS_LIST)
async def list_calls(query: ListCalls, repo: Repository) -> CallPage:
    return await calls.list_calls(repo, query)


@responds(subjects.PATIENTS_CALLS_GET)
async def get_call(query: GetCall, repo: Repository) -> CallDetail:
    return await calls.get_call(repo, query)


@responds(subjects.PATIENTS_SMS_CONSENT)
async def set_sms_consent(cmd: SetSmsConsent, repo: Repository) -> SmsConsentSet:
    return await contact.set_sms_consent(repo, cmd, utcnow())


@responds(subjects.erase_patient("patients"))
async def erase_patient(cmd: ErasePatient, repo: Repository, settings: Settings) -> PatientErasedHere:
    """GDPR Art. 17 from the staff app; `ignis erase-patient` does the same from the command line."""
    return PatientErasedHere(
        counts=await retention.erase_everywhere_here(repo, settings.nats, cmd.patient_id)
    )


@responds(subjects.PATIENTS_CONTACT)
async def patient_contact(query: GetContact, repo: Repository) -> Contact:
    return await contact.contact(repo, query)


@responds(subjects.PATIENTS_FHIR_ID)
async def patient_fhir_id(query: GetFhirPatientId, repo: AutocommitRepository) -> FhirPatientId:
    return await contact.fhir_patient_id(repo, query)


@responds(subjects.PATIENTS_CONTACTS)
async def patient_contacts(query: GetContacts, repo: AutocommitRepository) -> Contacts:
    """The notifier's batch of SMS: one request, two reads (no transaction: asked again before each batch)."""
    return await contact.contacts(repo, query)


@responds(subjects.PATIENTS_LOCKS_LIST)
async def identity_locks(_: ListIdentityLocks, repo: Repository, settings: Settings) -> IdentityLocks:
    return await identity.identity_locks(repo, settings, utcnow())


@responds(subjects.PATIENTS_LOCKS_UNLOCK)
async def unlock_identity(cmd: UnlockIdentity, repo: Repository) -> IdentityUnlocked:
    return await identity.unlock_identity(repo, cmd, utcnow())


@durable_subscriber(
    router,
    subjects.elevenlabs_webhook("*"),
    stream=subjects.WEBHOOKS_STREAM,
    durable=subjects.PATIENTS_CALLS_CONSUMER,
)
async def store_call(
    _: Any, message: Message, sessionmaker: Sessionmaker, settings: Settings, broker: Broker
) -> None:
    """Acknowledged only after the record is committed; a redelivery finds it and changes nothing. Then the
    event (the whole transcript) is deleted from the stream: the record is the one copy, purged with it.

    The raw bytes are read, not FastStream's decoded body: they are ElevenLabs' event as it was signed.
    """

    async def work() -> None:
        async with sessionmaker() as session, session.begin():
            await calls.store_call(PatientRepository(session), settings, message.body, utcnow())

    await settle(message, broker, work, remove=True)
