-- Booked appointments and the outbox of appointment events. Free slots are computed, never stored.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;

CREATE TABLE appointment (
    id uuid PRIMARY KEY,
    patient_id uuid NOT NULL,  -- owned by the patients service; no foreign key across schemas
    practitioner_id text NOT NULL,
    visit_type_id text NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled')),
    reason text,  -- the caller's words; health data, never sent in events or SMS
    conversation_id text NOT NULL,
    -- (conversation, slot) of the booking call: a retried identical call finds its appointment again.
    -- Cleared on cancel, so the same caller can book the same slot once more.
    idempotency_key text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    cancelled_at timestamptz,
    CONSTRAINT ck_appointment_time CHECK (end_at > start_at),
    CONSTRAINT uq_appointment_idempotency_key UNIQUE (idempotency_key),
    -- Double booking is impossible at the database level, whatever the application does.
    CONSTRAINT ex_appointment_no_overlap EXCLUDE USING gist (
        practitioner_id WITH =, tstzrange(start_at, end_at) WITH &&
    ) WHERE (status <> 'cancelled')
);
CREATE INDEX ix_appointment_patient ON appointment (patient_id, start_at) WHERE status = 'booked';
CREATE INDEX ix_appointment_start ON appointment (start_at) WHERE status = 'booked';

CREATE TABLE outbox (
    event_id uuid PRIMARY KEY,
    subject text NOT NULL,
    payload bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at timestamptz
);
CREATE INDEX ix_outbox_pending ON outbox (created_at) WHERE published_at IS NULL;
