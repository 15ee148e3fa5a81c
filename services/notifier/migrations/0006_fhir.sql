-- FHIR record mode: each SMS sent is recorded on the practice's server as a `Communication` (medium SMS),
-- written by a background job after the `sent` outcome is committed. `fhir_patient_id` (the patient on the
-- server, from the contact asked before sending) is set only in that mode; a sent message with one and no
-- `fhir_written_at` still needs its Communication. Rows from before stay NULL: nothing to write.
ALTER TABLE message ADD COLUMN fhir_patient_id text;
ALTER TABLE message ADD COLUMN fhir_written_at timestamptz;
CREATE INDEX ix_message_behind_fhir ON message (finished_at)
    WHERE status = 'sent' AND fhir_patient_id IS NOT NULL AND fhir_written_at IS NULL;
