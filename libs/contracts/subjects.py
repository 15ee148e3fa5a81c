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

EVENTS_STREAM: Final = "IGNIS_EVENTS"
EVENTS_SUBJECTS: Final = "ignis.events.>"
WEBHOOKS_STREAM: Final = "IGNIS_WEBHOOKS"
WEBHOOKS_SUBJECTS: Final = "ignis.webhooks.>"
