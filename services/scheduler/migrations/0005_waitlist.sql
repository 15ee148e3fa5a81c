-- The waiting list: a verified caller waits for a visit type (a window, a practitioner if wished). When a
-- cancellation or move frees a matching slot, it is held for the first one waiting (`slot_hold`) and
-- offered by SMS (the notifier, from the `appointment.slot_offered` event in the outbox).
CREATE TABLE waitlist_entry (
    id uuid PRIMARY KEY,
    patient_id uuid NOT NULL,  -- owned by the patients service; no foreign key across schemas
    visit_type_id text NOT NULL,
    practitioner_id text,      -- NULL: any who offers the visit type
    earliest date,             -- local days, inclusive
    latest date,
    conversation_id text NOT NULL,
    -- 'waiting' until a slot is held for it; 'offered' then (offered once); 'booked' when the patient
    -- booked the visit type after joining.
    status text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'offered', 'booked')),
    -- (conversation, visit type): a retried join finds its entry again.
    idempotency_key text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ix_waitlist_waiting ON waitlist_entry (visit_type_id, created_at) WHERE status = 'waiting';

CREATE TABLE slot_hold (
    id uuid PRIMARY KEY,
    entry_id uuid NOT NULL REFERENCES waitlist_entry (id) ON DELETE CASCADE,
    patient_id uuid NOT NULL,
    practitioner_id text NOT NULL,
    visit_type_id text NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_slot_hold_active ON slot_hold (practitioner_id, expires_at);
