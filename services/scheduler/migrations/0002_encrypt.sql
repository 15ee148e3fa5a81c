-- The visit reason (the caller's words) is encrypted at rest (kit.crypto): the column, text already, holds a
-- Fernet token. Rows written before stay plaintext and readable; `ignis rotate-data-key` encrypts them.
COMMENT ON COLUMN appointment.reason IS 'encrypted (kit.crypto)';
