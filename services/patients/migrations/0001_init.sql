-- Patient identity and the conversation-bound verification of callers.
CREATE TABLE patient (
    id uuid PRIMARY KEY,
    first_name text NOT NULL,
    last_name text NOT NULL,
    salutation text CHECK (salutation IN ('Frau', 'Herr')),
    birth_date date NOT NULL,
    -- Normalised and Kölner-Phonetik keys of the last name, kept for lookups beyond the birth date.
    last_name_key text NOT NULL,
    last_name_phonetic text NOT NULL,
    phone text,  -- E.164
    insurance text NOT NULL CHECK (insurance IN ('gesetzlich', 'privat', 'selbstzahler')),
    sms_consent boolean NOT NULL DEFAULT false,
    sms_consent_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_patient_consent_time CHECK (NOT sms_consent OR sms_consent_at IS NOT NULL)
);
-- Identification always knows the exact birth date, so candidates are found by it.
CREATE INDEX ix_patient_birth_date ON patient (birth_date);
CREATE INDEX ix_patient_phone ON patient (phone);

-- A patient_ref is valid only within the conversation that verified the caller, until it expires.
CREATE TABLE verification (
    patient_ref text PRIMARY KEY,
    conversation_id text NOT NULL,
    patient_id uuid NOT NULL REFERENCES patient (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CONSTRAINT uq_verification_conversation_patient UNIQUE (conversation_id, patient_id)
);

-- Failed identification attempts per conversation (brute-force limit).
CREATE TABLE identify_attempt (
    conversation_id text PRIMARY KEY,
    failures integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
