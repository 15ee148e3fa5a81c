-- What the notifier knows of each appointment, from its events: the newest event wins. A reminder is sent
-- only while the event that planned it is still the appointment's newest and it is not cancelled.
CREATE TABLE appointment (
    id uuid PRIMARY KEY,
    patient_id uuid NOT NULL,
    start_at timestamptz NOT NULL,
    cancelled boolean NOT NULL,
    event_id uuid NOT NULL,
    event_at timestamptz NOT NULL
);

-- Every SMS the notifier means to send, is sending or has sent: its outbox towards the SMS provider.
CREATE TABLE message (
    id uuid PRIMARY KEY,
    -- event id + template, written before anything is sent: a redelivered event finds it and adds nothing.
    idempotency_key text NOT NULL,
    event_id uuid NOT NULL,
    template text NOT NULL CHECK (template IN ('confirmation', 'reschedule', 'cancellation', 'reminder')),
    appointment_id uuid NOT NULL,
    patient_id uuid NOT NULL,
    practitioner_id text NOT NULL,
    start_at timestamptz NOT NULL,
    previous_start_at timestamptz,
    -- pending → claimed (a sender took it) → sending (the request may leave now) → sent | failed | unknown;
    -- or skipped (no consent, no mobile number, ...) or withdrawn (cancelled or moved before its time).
    status text NOT NULL CHECK (
        status IN ('pending', 'claimed', 'sending', 'sent', 'failed', 'unknown', 'skipped', 'withdrawn')
    ),
    reason text,
    due_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    claim uuid,
    claimed_at timestamptz,
    provider text,
    provider_status integer,
    body text,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    CONSTRAINT uq_message_idempotency_key UNIQUE (idempotency_key)
);
CREATE INDEX ix_message_due ON message (due_at) WHERE status = 'pending';
CREATE INDEX ix_message_in_flight ON message (claimed_at) WHERE status IN ('claimed', 'sending');
CREATE INDEX ix_message_appointment ON message (appointment_id, created_at);
CREATE INDEX ix_message_patient ON message (patient_id, created_at);
CREATE INDEX ix_message_created ON message (created_at);
