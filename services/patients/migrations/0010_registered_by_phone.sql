-- Whether the patient came to the practice through `register_patient` (not from the practice's own
-- records): a new patient, for the practice's booking rules (`rules.new_patients`).
ALTER TABLE patient ADD COLUMN registered_by_phone boolean NOT NULL DEFAULT false;
