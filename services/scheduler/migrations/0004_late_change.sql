-- A cancellation or move inside the practice's cancellation period (`booking.late_changes: cancel`) is made,
-- and flagged for the team.
ALTER TABLE appointment ADD COLUMN late_change boolean NOT NULL DEFAULT false;
