-- The version of the newest event seen per appointment (the scheduler assigns them under its row lock):
-- an older event never overwrites a newer one's state. Rows from before have version 0.
ALTER TABLE appointment ADD COLUMN version integer NOT NULL DEFAULT 0;
