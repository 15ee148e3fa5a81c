"""Ignis ids of FHIR resources: stable uuid5s of the logical id, the same in every service and replica, so
an id the patients service hands out (a patient) is the one the scheduler derives from an Appointment."""

import uuid

PATIENT_NAMESPACE = uuid.UUID("0b3f1c52-55d4-4f0c-9d8e-7f1a2c6e9b41")
APPOINTMENT_NAMESPACE = uuid.UUID("6a8d4f0e-2b7c-4e91-a3d5-9c1e7b2f4a60")


def patient_id_of(fhir_id: str) -> uuid.UUID:
    return uuid.uuid5(PATIENT_NAMESPACE, f"Patient/{fhir_id}")


def appointment_id_of(fhir_id: str) -> uuid.UUID:
    """An appointment Ignis did not make (no `urn:ignis:appointment` identifier) still gets a stable id."""
    return uuid.uuid5(APPOINTMENT_NAMESPACE, f"Appointment/{fhir_id}")
