"""Settings of the scheduler service."""

from ignis.fhir.settings import FhirSettings
from ignis.kit.settings import DataSettings


class SchedulerSettings(DataSettings, FhirSettings):
    # IGNIS_RECORDS=fhir: the calendar is on the practice's FHIR server (FhirSettings, README "FHIR").
    pass
