"""Every NATS subject and message model of Ignis: pydantic only, no I/O.

Versioning rule: only add optional fields. A breaking change gets a new model and a new subject.
Because models forbid unknown fields, a new field ships here (and so in every service) before any
service sends it.
"""
