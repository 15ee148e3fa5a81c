-- One record per conversation, from ElevenLabs' post-call webhook (transcripts are health data).
CREATE TABLE call (
    conversation_id text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('post_call_transcription', 'call_initiation_failure')),
    patient_id uuid REFERENCES patient (id) ON DELETE SET NULL,  -- who was verified during the call
    caller_number text,  -- E.164 where it could be read
    started_at timestamptz,
    duration_secs integer,
    termination_reason text,
    failure_reason text,
    call_successful text,
    summary text,
    transcript jsonb,
    analysis jsonb,
    data_collection jsonb,
    received_at timestamptz NOT NULL DEFAULT now(),
    retain_until timestamptz NOT NULL
);
CREATE INDEX ix_call_patient ON call (patient_id);
CREATE INDEX ix_call_received ON call (received_at DESC);
CREATE INDEX ix_call_retain_until ON call (retain_until);
