-- Identification budgets (guessing a birth date must not be cheap): every failed identification and every
-- new registration is one row, counted per conversation, per caller number and per name over a window.
-- Rows are kept only for that window (the purge deletes older ones): caller numbers and names are personal.
CREATE TABLE identity_attempt (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('failed', 'registered')),
    caller_key text NOT NULL,  -- E.164, or 'withheld' (every caller without a usable number shares it)
    name_codes text[] NOT NULL,  -- Kölner Phonetik code of each part of the last name said
    name_said text NOT NULL,  -- the last name as said, normalised: what staff see on a lock
    attempted_at timestamptz NOT NULL
);
CREATE INDEX ix_identity_attempt_conversation ON identity_attempt (conversation_id);
CREATE INDEX ix_identity_attempt_caller ON identity_attempt (caller_key, attempted_at);
CREATE INDEX ix_identity_attempt_time ON identity_attempt (attempted_at);
CREATE INDEX ix_identity_attempt_names ON identity_attempt USING gin (name_codes);

-- Staff lifted a lock: attempts before this moment no longer count for that caller or name.
CREATE TABLE identity_unlock (
    scope text NOT NULL CHECK (scope IN ('caller', 'name')),
    key text NOT NULL,
    unlocked_at timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Replaced by identity_attempt (per conversation only, it let every new call guess three more times).
DROP TABLE identify_attempt;
