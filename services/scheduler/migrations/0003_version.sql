-- Each change of an appointment gets the next version, assigned under its row lock; events carry it, so
-- consumers order an appointment's events by it, never by a clock (replicas' clocks and handler start
-- times do not tell which commit came last).
ALTER TABLE appointment ADD COLUMN version integer NOT NULL DEFAULT 1;
