"""Every NATS subject, queue group and stream name of Ignis; nowhere else may one be spelled out.

Commands are request-reply on `ignis.<service>.<verb>` with one queue group per service, so replicas
share the load. Events are past tense on `ignis.events.<noun>.<verb_past>`.
"""

from typing import Final

SERVICES: Final = ("patients", "scheduler", "notifier")


def queue(service: str) -> str:
    """The queue group a service's replicas share."""
    return service


def ping(service: str) -> str:
    return f"ignis.{service}.ping"


PATIENTS_IDENTIFY: Final = "ignis.patients.identify"
PATIENTS_REGISTER: Final = "ignis.patients.register"
PATIENTS_RESOLVE_REF: Final = "ignis.patients.ref.resolve"
PATIENTS_LOOKUP_CALLER: Final = "ignis.patients.caller.lookup"
PATIENTS_REQUEST_CREATE: Final = "ignis.patients.request.create"
PATIENTS_REQUEST_LIST: Final = "ignis.patients.request.list"
PATIENTS_REQUEST_CLAIM: Final = "ignis.patients.request.claim"
PATIENTS_REQUEST_COMPLETE: Final = "ignis.patients.request.complete"
PATIENTS_NAMES: Final = "ignis.patients.names"
PATIENTS_CALLS_LIST: Final = "ignis.patients.calls.list"
PATIENTS_CALLS_GET: Final = "ignis.patients.calls.get"
PATIENTS_CONTACT: Final = "ignis.patients.contact"
PATIENTS_FHIR_ID: Final = "ignis.patients.fhir_id"
PATIENTS_CONTACTS: Final = "ignis.patients.contacts"
PATIENTS_SMS_CONSENT: Final = "ignis.patients.consent.sms"
PATIENTS_LOCKS_LIST: Final = "ignis.patients.locks.list"
PATIENTS_LOCKS_UNLOCK: Final = "ignis.patients.locks.unlock"

SCHEDULER_FIND_SLOTS: Final = "ignis.scheduler.slots.find"
SCHEDULER_BOOK: Final = "ignis.scheduler.appointment.book"
SCHEDULER_LIST: Final = "ignis.scheduler.appointment.list"
SCHEDULER_CANCEL: Final = "ignis.scheduler.appointment.cancel"
SCHEDULER_RESCHEDULE: Final = "ignis.scheduler.appointment.reschedule"
SCHEDULER_DAY: Final = "ignis.scheduler.appointment.day"
# The practice team's own: for a patient, without a conversation (the staff app signs in and audits).
SCHEDULER_PATIENT_APPOINTMENTS: Final = "ignis.scheduler.appointment.of_patient"
SCHEDULER_STAFF_CANCEL: Final = "ignis.scheduler.appointment.staff_cancel"
SCHEDULER_STAFF_RESCHEDULE: Final = "ignis.scheduler.appointment.staff_reschedule"
SCHEDULER_PRACTICE_INFO: Final = "ignis.scheduler.practice.info"
SCHEDULER_WAITLIST_JOIN: Final = "ignis.scheduler.waitlist.join"
SCHEDULER_WAITLIST_LIST: Final = "ignis.scheduler.waitlist.list"

NOTIFIER_MESSAGES_LIST: Final = "ignis.notifier.messages.list"
NOTIFIER_MESSAGE_RETRY: Final = "ignis.notifier.message.retry"

REQUEST_CREATED: Final = "ignis.events.request.created"
PATIENT_ERASED: Final = "ignis.events.patient.erased"
APPOINTMENT_BOOKED: Final = "ignis.events.appointment.booked"
APPOINTMENT_CANCELLED: Final = "ignis.events.appointment.cancelled"
APPOINTMENT_RESCHEDULED: Final = "ignis.events.appointment.rescheduled"
# A freed slot held for a patient on the waiting list (under appointment.> so the notifier's consumer has it).
APPOINTMENT_SLOT_OFFERED: Final = "ignis.events.appointment.slot_offered"
APPOINTMENT_EVENTS_SUBJECTS: Final = "ignis.events.appointment.>"

EVENTS_STREAM: Final = "IGNIS_EVENTS"
EVENTS_SUBJECTS: Final = "ignis.events.>"


def elevenlabs_webhook(event_type: str) -> str:
    """Where the gateway puts a verified ElevenLabs post-call event of `event_type`, raw."""
    return f"ignis.webhooks.elevenlabs.{event_type}"


WEBHOOKS_STREAM: Final = "IGNIS_WEBHOOKS"
DEAD_LETTER_STREAM: Final = "IGNIS_DEAD_LETTERS"
DEAD_LETTER_SUBJECTS: Final = "ignis.deadletter.>"


def dead_letter(subject: str) -> str:
    """Where a message that failed every delivery attempt on `subject` is kept for an operator."""
    return "ignis.deadletter." + subject.removeprefix("ignis.")


def erase_patient(service: str) -> str:
    """Where `ignis erase-patient` asks a service to erase a patient now and say what it removed (besides
    the durable `patient.erased` event, which reaches a service that is down once it is back)."""
    return f"ignis.{service}.patient.erase"


PATIENTS_CALLS_CONSUMER: Final = "patients-calls"
NOTIFIER_APPOINTMENTS_CONSUMER: Final = "notifier-appointments"
NOTIFIER_REQUESTS_CONSUMER: Final = "notifier-requests"  # urgent requests: an SMS to the staff mobile
# Each service that keeps something about patients erases it when the patients service erased one.
SCHEDULER_ERASURES_CONSUMER: Final = "scheduler-erasures"
NOTIFIER_ERASURES_CONSUMER: Final = "notifier-erasures"
WEBHOOKS_SUBJECTS: Final = "ignis.webhooks.>"


def stream_subjects(stream: str) -> str:
    """The subjects `stream` holds (its filter)."""
    return {
        EVENTS_STREAM: EVENTS_SUBJECTS,
        WEBHOOKS_STREAM: WEBHOOKS_SUBJECTS,
        DEAD_LETTER_STREAM: DEAD_LETTER_SUBJECTS,
    }[stream]
