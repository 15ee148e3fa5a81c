-- The whole post-call event as ElevenLabs signed it, kept (encrypted) when part of it did not fit the
-- record's columns, so nothing a webhook carried is lost; purged with the record.
ALTER TABLE call ADD COLUMN raw_event text;
COMMENT ON COLUMN call.raw_event IS 'encrypted (kit.crypto)';
