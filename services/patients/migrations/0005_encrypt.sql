-- Health data encrypted at rest (kit.crypto): each of these columns holds a Fernet token as text. Rows
-- written before stay plaintext (the JSON documents as their text) and remain readable; `ignis
-- rotate-data-key` encrypts them.
ALTER TABLE call ALTER COLUMN transcript TYPE text USING transcript::text;
ALTER TABLE call ALTER COLUMN analysis TYPE text USING analysis::text;
ALTER TABLE call ALTER COLUMN data_collection TYPE text USING data_collection::text;
COMMENT ON COLUMN call.summary IS 'encrypted (kit.crypto)';
COMMENT ON COLUMN call.transcript IS 'encrypted JSON (kit.crypto)';
COMMENT ON COLUMN call.analysis IS 'encrypted JSON (kit.crypto)';
COMMENT ON COLUMN call.data_collection IS 'encrypted JSON (kit.crypto)';
COMMENT ON COLUMN request.details IS 'encrypted (kit.crypto)';
COMMENT ON COLUMN request.completion_note IS 'encrypted (kit.crypto)';
