-- The practice team's accounts: a name to sign in with, a role, an argon2 hash once the person has set a
-- password through their one-time set-up link (only the link's SHA-256 is kept), and the lock-out state.
CREATE TABLE account (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('staff', 'admin')),
    password_hash text,
    setup_token_hash text UNIQUE,
    setup_expires_at timestamptz,
    failed_attempts integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX uq_account_name ON account (lower(name));

-- A signed-in browser: the cookie's token is never stored, only its SHA-256; the CSRF token is the
-- synchronizer token every form of this session carries.
CREATE TABLE session (
    token_hash text PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES account (id) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX ix_session_account_id ON session (account_id);

-- Who looked at or changed what, when (GDPR Art. 9, need-to-know): ids and the kind of action only, never
-- the content. The account's name is copied so the trail outlives a removed account.
CREATE TABLE audit (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    account_id uuid,
    account_name text NOT NULL,
    action text NOT NULL,
    patient_id uuid,
    target text
);
CREATE INDEX ix_audit_patient_id ON audit (patient_id, at);
