-- The staff request queue, and the outbox of the patients service's events.
CREATE TABLE request (
    id uuid PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('rueckruf', 'rezept', 'ueberweisung', 'krankschreibung', 'nachricht')),
    details text NOT NULL,  -- the caller's words; health data
    patient_id uuid REFERENCES patient (id) ON DELETE CASCADE,
    conversation_id text NOT NULL,
    callback_number text,  -- E.164
    urgent boolean NOT NULL DEFAULT false,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'claimed', 'done')),
    -- (conversation, kind, details): a retried identical tool call finds its request again.
    idempotency_key text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    claimed_by text,
    claimed_at timestamptz,
    completed_at timestamptz,
    completion_note text,
    CONSTRAINT uq_request_idempotency_key UNIQUE (idempotency_key)
);
CREATE INDEX ix_request_queue ON request (status, urgent DESC, created_at);
CREATE INDEX ix_request_patient ON request (patient_id);

CREATE TABLE outbox (
    event_id uuid PRIMARY KEY,
    subject text NOT NULL,
    payload bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at timestamptz
);
CREATE INDEX ix_outbox_pending ON outbox (created_at) WHERE published_at IS NULL;
