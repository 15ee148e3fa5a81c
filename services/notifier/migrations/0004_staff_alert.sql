-- One SMS to the practice's staff mobile per urgent request (`request.created`): the row is written before
-- the SMS leaves, so a redelivered event finds it and sends nothing. No details: they are health data.
CREATE TABLE staff_alert (
    request_id text PRIMARY KEY,
    created_at timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'unknown')),
    reason text
);
