"""The patients service's commands as the tests send them over NATS, in either record mode: `ask` and the
reply types, an identification and a registration built from a `tests.factories.Person`."""

import datetime as dt
from typing import Any

from faststream.nats import NatsBroker
from pydantic import BaseModel, TypeAdapter

from ignis.contracts.base import ErrorReply
from ignis.contracts.patients import (
    IdentifyPatient,
    Insurance,
    PatientAlreadyRegistered,
    PatientIdentified,
    PatientRefResolved,
    PatientRegistered,
    RegisterPatient,
)
from tests.factories import NEW_PATIENT, Person

Reply = TypeAdapter[Any]
IDENTIFY: Reply = TypeAdapter(PatientIdentified | ErrorReply)
REGISTER: Reply = TypeAdapter(PatientRegistered | PatientAlreadyRegistered | ErrorReply)
RESOLVE: Reply = TypeAdapter(PatientRefResolved | ErrorReply)


async def ask(bus: NatsBroker, subject: str, command: BaseModel, adapter: Reply) -> Any:
    message = await bus.request(command, subject, timeout=5)
    return adapter.validate_json(message.body)


def identify(
    conversation: str, last_name: str, birth_date: dt.date, first_name: str | None = None
) -> IdentifyPatient:
    return IdentifyPatient(
        conversation_id=conversation, last_name=last_name, birth_date=birth_date, first_name=first_name
    )


def register(conversation: str, person: Person = NEW_PATIENT, **changes: Any) -> RegisterPatient:
    fields: dict[str, Any] = {
        "conversation_id": conversation,
        "caller_id": "+4930999888",
        "first_name": person.first_name,
        "last_name": person.last_name,
        "birth_date": person.birth_date,
        "phone": person.phone,
        "insurance": Insurance.gesetzlich,
        "sms_consent": True,
    }
    return RegisterPatient(**(fields | changes))
