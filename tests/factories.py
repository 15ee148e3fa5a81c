"""Fictitious patients used across the tests; `tests.pii` checks that none of their data is ever logged."""

import datetime as dt
import uuid
from dataclasses import dataclass

from ignis.contracts.patients import Insurance
from ignis.kit.clock import utcnow
from ignis.patients.matching import normalise, phonetic
from ignis.patients.models import Patient


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    birth_date: dt.date
    phone: str | None = None
    salutation: str | None = None


MUELLER = Person("Anna", "Müller", dt.date(1980, 3, 12), "+4915123456789", "Frau")
GROSS = Person("Jürgen", "Groß", dt.date(1955, 11, 2), "+491609876543", "Herr")
WEIZSAECKER = Person("Lea", "von Weizsäcker", dt.date(1992, 7, 30), "+49305550123", "Frau")
# Twins in every respect but the first name, and two records identical even in that.
SCHMIDT_KLARA = Person("Klara", "Schmidt", dt.date(1975, 5, 5), "+4917612345678")
SCHMIDT_KARL = Person("Karl", "Schmidt", dt.date(1975, 5, 5), "+4917687654321")
MAYER_1 = Person("Peter", "Mayer", dt.date(1966, 6, 16), "+4915711112222")
MAYER_2 = Person("Peter", "Mayer", dt.date(1966, 6, 16), "+4915733334444")
NEW_PATIENT = Person("Zoë", "Krüger-Özdemir", dt.date(2001, 8, 9), "+4917099988877")

PEOPLE = (MUELLER, GROSS, WEIZSAECKER, SCHMIDT_KLARA, SCHMIDT_KARL, MAYER_1, MAYER_2, NEW_PATIENT)


def patient(person: Person, sms_consent: bool = True) -> Patient:
    return Patient(
        id=uuid.uuid4(),
        first_name=person.first_name,
        last_name=person.last_name,
        salutation=person.salutation,
        birth_date=person.birth_date,
        last_name_key=normalise(person.last_name),
        last_name_phonetic=phonetic(person.last_name),
        phone=person.phone,
        insurance=Insurance.gesetzlich.value,
        sms_consent=sms_consent,
        sms_consent_at=utcnow() if sms_consent else None,
    )
