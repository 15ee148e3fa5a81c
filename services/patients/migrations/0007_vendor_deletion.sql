-- Conversations whose copy at ElevenLabs must go (a patient erased, a call record past its retention): one
-- row each, recorded with the local deletion and kept, so that the reconciliation never fetches such a
-- conversation back, and what was deleted at ElevenLabs (deleted_at) or is still pending can be counted.
CREATE TABLE vendor_deletion (
    conversation_id text PRIMARY KEY,
    reason text NOT NULL CHECK (reason IN ('erasure', 'retention')),
    requested_at timestamptz NOT NULL,
    deleted_at timestamptz,  -- null: not yet deleted at ElevenLabs (not configured, or it failed)
    attempts integer NOT NULL DEFAULT 0
);
CREATE INDEX ix_vendor_deletion_pending ON vendor_deletion (requested_at) WHERE deleted_at IS NULL;
