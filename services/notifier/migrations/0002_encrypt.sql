-- The SMS text is encrypted at rest (kit.crypto): the column, text already, holds a Fernet token. Rows
-- written before stay plaintext and readable; `ignis rotate-data-key` encrypts them.
COMMENT ON COLUMN message.body IS 'encrypted (kit.crypto)';
