-- FHIR record mode: the practice's system sees each staff request as a Task and each call of a verified patient
-- as a Communication, written after the row here is committed by the service's FHIR sync and retried until the
-- server has it. What was last written there (null: nothing yet); a row whose value differs is still to write.
ALTER TABLE request ADD COLUMN fhir_status text;
ALTER TABLE call ADD COLUMN fhir_kind text;
CREATE INDEX ix_request_fhir_behind ON request (created_at) WHERE fhir_status IS DISTINCT FROM status;
CREATE INDEX ix_call_fhir_behind ON call (received_at)
    WHERE patient_id IS NOT NULL AND fhir_kind IS DISTINCT FROM kind;
