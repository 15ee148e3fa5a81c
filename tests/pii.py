"""The guard behind 'no log line contains a patient's name, birth date or phone number'."""

import logging
from collections.abc import Iterable

from ignis.kit.logging import RedactingFormatter
from tests.factories import PEOPLE

_FORMATTER = RedactingFormatter("test", json_lines=True)


def pii_strings() -> set[str]:
    strings: set[str] = set()
    for person in PEOPLE:
        strings |= {person.first_name, person.last_name, person.last_name.split()[-1]}
        strings |= {person.birth_date.isoformat(), person.birth_date.strftime("%d.%m.%Y")}
        if person.phone:
            strings |= {person.phone, "0" + person.phone[3:]}
    return strings


PII = pii_strings()


def find_pii(text: str) -> list[str]:
    return sorted(value for value in PII if value in text)


def assert_no_pii(records: Iterable[logging.LogRecord]) -> None:
    """Check what the handler would really write: each record rendered by Ignis' formatter."""
    for record in records:
        line = _FORMATTER.format(record)
        leaked = find_pii(line)
        assert not leaked, f"patient data in a log line ({record.name}): {leaked}"
