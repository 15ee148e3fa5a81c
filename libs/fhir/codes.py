"""The systems and codes Ignis writes and searches by: German base profiles (de.basisprofil, gematik ISiK)
where they define one, HL7's terminology otherwise, and Ignis' own URNs for what only Ignis knows.
docs/fhir.md maps each Ignis concept to its resource and field."""

# Ignis' own identifiers (assigned by Ignis; `If-None-Exist` on them makes a retried create harmless).
IGNIS_REGISTRATION = "urn:ignis:registration"  # Patient, Coverage, Consent made by one phone registration
IGNIS_REQUEST = "urn:ignis:request"  # Task: a staff request (its id in Ignis)
IGNIS_CALL = "urn:ignis:call"  # Communication: a call record (the ElevenLabs conversation id)
IGNIS_SMS = "urn:ignis:sms"  # Communication: an SMS sent (its id in the notifier)
IGNIS_CONSENT = "urn:ignis:consent"  # Consent.category code `sms`: appointment SMS
IGNIS_REQUEST_KIND = "urn:ignis:request-kind"  # Task.code: rueckruf, rezept, ueberweisung, ...

# de.basisprofil R4
KVNR = "http://fhir.de/sid/gkv/kvid-10"  # the GKV insurance number (Krankenversichertennummer)
VERSICHERUNGSART = "http://fhir.de/CodeSystem/versicherungsart-de-basis"  # Coverage.type: GKV, PKV, SEL, ...

# HL7
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
LOINC = "http://loinc.org"
PATIENT_CONSENT = "59284-0"  # LOINC: Patient Consent (Consent.category)
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"  # Communication.medium
PHONE = "PHONE"  # ParticipationMode: telephone (a call)
SMS = "SMSWRIT"  # ParticipationMode: SMS

# Scheduling (gematik ISiK Terminplanung: Appointment, Schedule, Slot, HealthcareService).
IGNIS_APPOINTMENT = "urn:ignis:appointment"  # Appointment: its id in Ignis (the caller's appointment_id)
IGNIS_BOOKING = "urn:ignis:booking"  # Appointment: one booking call (conversation + slot); dropped on cancel
IGNIS_PRACTITIONER = "urn:ignis:practitioner"  # Practitioner: its id in the practice file
IGNIS_SCHEDULE = "urn:ignis:schedule"  # Schedule: the calendar of one practitioner of the practice file
IGNIS_VISIT_TYPE = "urn:ignis:visit-type"  # HealthcareService.identifier, Appointment.serviceType: visit type
IGNIS_BOOKING_LOCK = "urn:ignis:booking-lock"  # Schedule.extension: bumped by every booking (If-Match)
IGNIS_CHANGE = "urn:ignis:change"  # Appointment.extension: Ignis' own change counter (the events' version)
