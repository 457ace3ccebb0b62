-- The audit log is written ahead (DESIGN §2.7, fail closed): a mutating call that passed authentication,
-- validation and its rate limit gets a `pending` entry before its handler runs, and the
-- handler does not run when that entry cannot be written (fail closed). The entry is
-- completed once, with the outcome, status and target, before the answer leaves. An entry
-- left `pending` says the call started and its end was not recorded (the process stopped).
--
-- Completing a pending entry is the one change the log allows: every other UPDATE, every
-- DELETE and TRUNCATE stay refused, for the owner too.
--
-- `request_id` is the server's own id of the call (unique per call); the id a client sent
-- in X-Request-Id is kept beside it as `correlation_id`.
ALTER TABLE backtrack.audit_log DROP CONSTRAINT audit_log_outcome_check;
ALTER TABLE backtrack.audit_log
  ADD CONSTRAINT audit_log_outcome_check
  CHECK (outcome IN ('pending', 'success', 'failure', 'denied'));
ALTER TABLE backtrack.audit_log ADD COLUMN correlation_id text;

CREATE OR REPLACE FUNCTION backtrack.audit_log_is_append_only() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND OLD.outcome = 'pending'
     AND NEW.outcome <> 'pending'
     AND NEW.id = OLD.id
     AND NEW.at = OLD.at
     AND NEW.actor = OLD.actor
     AND NEW.actor_role IS NOT DISTINCT FROM OLD.actor_role
     AND NEW.tenant_id IS NOT DISTINCT FROM OLD.tenant_id
     AND NEW.action = OLD.action
     AND NEW.request_id = OLD.request_id
     AND NEW.correlation_id IS NOT DISTINCT FROM OLD.correlation_id
     AND (OLD.target IS NULL OR NEW.target IS NOT DISTINCT FROM OLD.target) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'backtrack.audit_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
