-- FHIR record mode (IGNIS_RECORDS=fhir): the patients live on the practice's FHIR server; Ignis knows each one
-- it has seen by its own id (what refs, call records and requests hold) and keeps here which FHIR Patient that
-- id stands for. No patient data: two ids.
CREATE TABLE fhir_patient (
    patient_id uuid PRIMARY KEY,
    fhir_id text NOT NULL UNIQUE
);

-- A patient id in a ref, a call record or a request is then no row of `patient`: the foreign keys go. Erasure
-- never relied on their cascades (repository.erase deletes each table's rows itself).
ALTER TABLE verification DROP CONSTRAINT verification_patient_id_fkey;
ALTER TABLE call DROP CONSTRAINT call_patient_id_fkey;
ALTER TABLE request DROP CONSTRAINT request_patient_id_fkey;
