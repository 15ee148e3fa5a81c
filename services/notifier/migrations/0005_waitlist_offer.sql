-- The SMS that offers a patient on the waiting list the slot held for them (`appointment.slot_offered`);
-- its `appointment_id` is the hold's id, there being no appointment yet.
ALTER TABLE message DROP CONSTRAINT message_template_check;
ALTER TABLE message ADD CONSTRAINT message_template_check
    CHECK (template IN ('confirmation', 'reschedule', 'cancellation', 'reminder', 'waitlist_offer'));
