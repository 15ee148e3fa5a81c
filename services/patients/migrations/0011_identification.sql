-- An identification's budget check and its consequence in one statement, so that a tool call costs two
-- round trips (its candidates, then this) instead of a transaction of six: the budgets' advisory locks,
-- what each budget has used, and, when none is used up, the one match's ref issued or the failed attempt
-- counted. Run on its own (autocommit), the locks are held only while it runs; every query in it sees
-- what the attempts before it committed (PL/pgSQL takes a new snapshot per query under READ COMMITTED).
-- Inside a transaction (registration: `p_patient` and `p_failed_name` NULL), it only locks and counts,
-- and the locks stay until that transaction ends.
--
-- p_limits: the conversation's, the caller number's and each name code's budget, in that order.
-- locked: a budget was used up before this attempt (nothing was written); locked_after: the next failed
-- attempt would be refused (this one counted). A ref alone commits without waiting for the WAL flush:
-- a crash of Postgres in that moment loses it, and the caller is asked again; a counted attempt waits.
CREATE FUNCTION identification(
    p_keys bigint[], p_conversation text, p_caller text, p_codes text[], p_since timestamptz,
    p_limits int[], p_now timestamptz,
    p_patient uuid, p_ref text, p_expires timestamptz, p_failed_name text
) RETURNS TABLE (
    locked boolean, locked_after boolean, used_conversation int, used_registrations int, used_caller int,
    used_codes text[], used_names int[], patient_ref text
) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(k) FROM unnest(p_keys) AS k ORDER BY k;
    SELECT count(*), count(*) FILTER (WHERE a.kind = 'registered')
      INTO used_conversation, used_registrations
      FROM patients.identity_attempt a
     WHERE a.conversation_id = p_conversation AND a.attempted_at > p_since;
    SELECT count(*) INTO used_caller
      FROM patients.identity_attempt a
     WHERE a.caller_key = p_caller AND a.attempted_at > greatest(p_since, (
           SELECT u.unlocked_at FROM patients.identity_unlock u WHERE u.scope = 'caller' AND u.key = p_caller));
    SELECT array_agg(per_code.code ORDER BY per_code.code), array_agg(per_code.n ORDER BY per_code.code)
      INTO used_codes, used_names
      FROM (SELECT c.code, count(a.id)::int AS n
              FROM unnest(p_codes) AS c (code)
              LEFT JOIN patients.identity_attempt a ON c.code = ANY(a.name_codes) AND a.attempted_at > greatest(
                   p_since, (SELECT u.unlocked_at FROM patients.identity_unlock u
                              WHERE u.scope = 'name' AND u.key = c.code))
             GROUP BY c.code) AS per_code;
    locked := used_conversation >= p_limits[1] OR used_caller >= p_limits[2]
              OR EXISTS (SELECT FROM unnest(used_names) AS n WHERE n >= p_limits[3]);
    locked_after := locked;
    IF NOT locked AND p_patient IS NOT NULL THEN
        PERFORM set_config('synchronous_commit', 'off', true);
        INSERT INTO patients.verification AS v (patient_ref, conversation_id, patient_id, expires_at)
        VALUES (p_ref, p_conversation, p_patient, p_expires)
        ON CONFLICT ON CONSTRAINT uq_verification_conversation_patient
        DO UPDATE SET expires_at = excluded.expires_at
        RETURNING v.patient_ref INTO patient_ref;
    ELSIF NOT locked AND p_failed_name IS NOT NULL THEN
        INSERT INTO patients.identity_attempt (conversation_id, kind, caller_key, name_codes, name_said,
                                               attempted_at)
        VALUES (p_conversation, 'failed', p_caller, p_codes, p_failed_name, p_now);
        locked_after := used_conversation + 1 >= p_limits[1] OR used_caller + 1 >= p_limits[2]
                        OR EXISTS (SELECT FROM unnest(used_names) AS n WHERE n + 1 >= p_limits[3]);
    END IF;
    RETURN NEXT;
END
$$;
