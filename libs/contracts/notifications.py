"""The notifier's contracts: a patient's SMS contact (asked of the patients service) and the staff view
of the messages it sent, failed to send or could not confirm."""

import datetime as dt
import uuid
from enum import StrEnum
from typing import Literal

from pydantic import Field

from ignis.contracts.base import Contract


class GetContact(Contract):
    """May this patient be texted, and where? Asked right before each SMS: consent can be withdrawn."""

    patient_id: uuid.UUID


class Contact(Contract):
    kind: Literal["contact"] = "contact"
    phone: str | None = Field(repr=False)  # E.164
    mobile: bool
    sms_consent: bool
    sms_consent_at: dt.datetime | None = None  # when it was given (for the staff app's patient page)
    # FHIR record mode: the patient's id on the practice's server (the notifier records each SMS there).
    fhir_patient_id: str | None = None


class GetContacts(Contract):
    """`GetContact` for several patients at once (the notifier sending a batch of SMS)."""

    patient_ids: list[uuid.UUID] = Field(max_length=1000)


class Contacts(Contract):
    """The contact of each patient asked for who exists, by patient id; one that does not is left out."""

    kind: Literal["contacts"] = "contacts"
    contacts: dict[uuid.UUID, Contact]


class SetSmsConsent(Contract):
    """Staff record a patient's SMS consent, given or withdrawn (GDPR: consent is revocable). Takes
    effect for every SMS not yet sent: the notifier asks right before each."""

    patient_id: uuid.UUID
    sms_consent: bool


class SmsConsentSet(Contract):
    kind: Literal["sms_consent"] = "sms_consent"
    patient_id: uuid.UUID
    sms_consent: bool
    sms_consent_at: dt.datetime | None


class MessageStatus(StrEnum):
    """`unknown`: the request left but no answer came; it is never sent again without a person deciding."""

    pending = "pending"
    claimed = "claimed"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    unknown = "unknown"
    skipped = "skipped"
    withdrawn = "withdrawn"


class ListMessages(Contract):
    appointment_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    status: MessageStatus | None = None
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)


class MessageItem(Contract):
    message_id: uuid.UUID
    appointment_id: uuid.UUID
    patient_id: uuid.UUID
    template: str
    status: MessageStatus
    reason: str | None
    attempts: int
    provider: str | None
    text: str | None
    created_at: dt.datetime
    due_at: dt.datetime
    finished_at: dt.datetime | None


class MessagePage(Contract):
    kind: Literal["messages"] = "messages"
    items: list[MessageItem]
    next_cursor: str | None


class RetryMessage(Contract):
    """Staff send a failed SMS again (e.g. after topping up the sipgate credit). Only `failed` ones: they
    certainly did not go out. An `unknown` one may have, so it is never resent by the system."""

    message_id: uuid.UUID


class MessageRetried(Contract):
    kind: Literal["retried"] = "retried"
    message: MessageItem
