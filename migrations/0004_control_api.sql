-- The control API (DESIGN §2.7, §2.8): jobs run by workers, cron schedules, DR plans and
-- DR tests, the append-only audit log, rate-limit counters shared by every API instance,
-- and health snapshots.

-- Long operations as rows: queued → running (leased by one worker, kept alive by its
-- heartbeat) → completed or failed. A running job whose lease expired belongs to a worker
-- that died: another worker claims it again (attempts counts the claims).
CREATE TABLE backtrack.jobs (
  id                uuid PRIMARY KEY,
  tenant_id         text NOT NULL,
  type              text NOT NULL CHECK (type IN ('snapshot', 'restore', 'rollback', 'verify', 'dr-test', 'compaction')),
  status            text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
  params            jsonb NOT NULL,
  -- Jobs that replace a tenant's rows: at most one queued or running per tenant.
  exclusive         boolean NOT NULL DEFAULT false,
  progress          jsonb,
  result            jsonb,
  error_code        text,
  error             text,
  attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  max_attempts      integer NOT NULL DEFAULT 3 CHECK (max_attempts > 0),
  run_after         timestamptz NOT NULL DEFAULT now(),
  lease_owner       text,
  lease_expires_at  timestamptz,
  schedule_id       uuid,
  created_by        text NOT NULL,
  request_id        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  started_at        timestamptz,
  finished_at       timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CHECK ((status IN ('completed', 'failed')) = (finished_at IS NOT NULL)),
  CHECK (status <> 'running' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);

CREATE INDEX jobs_claimable ON backtrack.jobs (run_after, created_at) WHERE status = 'queued';
CREATE INDEX jobs_leased ON backtrack.jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_by_tenant ON backtrack.jobs (tenant_id, created_at DESC);
CREATE INDEX jobs_by_schedule ON backtrack.jobs (schedule_id, created_at DESC) WHERE schedule_id IS NOT NULL;
CREATE UNIQUE INDEX jobs_one_exclusive_per_tenant
  ON backtrack.jobs (tenant_id) WHERE exclusive AND status IN ('queued', 'running');

-- Cron schedules (with a time zone) that create jobs. next_run_at is the next fire time the
-- leader will act on; a missed stretch is caught up by one job, then next_run_at jumps to
-- the next fire time after now.
CREATE TABLE backtrack.schedules (
  id                    uuid PRIMARY KEY,
  tenant_id             text NOT NULL,
  name                  text NOT NULL,
  cron                  text NOT NULL,
  timezone              text NOT NULL,
  job_type              text NOT NULL CHECK (job_type IN ('snapshot', 'verify', 'dr-test', 'compaction')),
  params                jsonb NOT NULL DEFAULT '{}',
  enabled               boolean NOT NULL DEFAULT true,
  retention_days        integer CHECK (retention_days > 0),
  max_backups           integer CHECK (max_backups > 0),
  notification_targets  text[] NOT NULL DEFAULT '{}',
  next_run_at           timestamptz,
  last_run_at           timestamptz,
  last_job_id           uuid,
  created_by            text NOT NULL,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

CREATE INDEX schedules_due ON backtrack.schedules (next_run_at) WHERE enabled;

-- Disaster-recovery plans: objectives (RTO ≥ RPO) and how often to back up and test.
CREATE TABLE backtrack.dr_plans (
  id                    uuid PRIMARY KEY,
  tenant_id             text NOT NULL,
  name                  text NOT NULL,
  description           text,
  rto_minutes           integer NOT NULL CHECK (rto_minutes > 0),
  rpo_minutes           integer NOT NULL CHECK (rpo_minutes > 0),
  backup_frequency      text NOT NULL,
  test_frequency        text NOT NULL,
  timezone              text NOT NULL DEFAULT 'UTC',
  retention_days        integer NOT NULL CHECK (retention_days > 0),
  priority              text NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
  notification_targets  text[] NOT NULL DEFAULT '{}',
  is_active             boolean NOT NULL DEFAULT true,
  created_by            text NOT NULL,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name),
  CHECK (rto_minutes >= rpo_minutes)
);

-- DR test runs: what was checked, how long a real restore took (measured RTO) and what
-- was found. Never simulated: see services/control-api/dr-test.ts.
CREATE TABLE backtrack.dr_tests (
  id                 uuid PRIMARY KEY,
  tenant_id          text NOT NULL,
  job_id             uuid NOT NULL,
  dr_plan_id         uuid REFERENCES backtrack.dr_plans (id) ON DELETE SET NULL,
  backup_id          uuid,
  test_name          text NOT NULL,
  test_type          text NOT NULL CHECK (test_type IN ('manual', 'automated', 'scheduled')),
  validation_level   text NOT NULL CHECK (validation_level IN ('basic', 'full', 'deep')),
  status             text NOT NULL CHECK (status IN ('running', 'passed', 'failed')),
  started_at         timestamptz NOT NULL DEFAULT now(),
  finished_at        timestamptz,
  measured_rto_ms    bigint,
  plan_rto_minutes   integer,
  rto_met            boolean,
  validations_passed integer NOT NULL DEFAULT 0,
  issues             jsonb NOT NULL DEFAULT '[]',
  report             jsonb,
  created_by         text NOT NULL,
  CHECK ((status = 'running') = (finished_at IS NULL))
);

CREATE INDEX dr_tests_by_tenant ON backtrack.dr_tests (tenant_id, started_at DESC);

-- The audit log: every mutating API call. Append-only: rows can be inserted and read,
-- never changed or removed (the triggers below refuse it, for the owner too).
CREATE TABLE backtrack.audit_log (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor        text NOT NULL,
  actor_role   text,
  tenant_id    text,
  action       text NOT NULL,
  target       text,
  request_id   text NOT NULL,
  outcome      text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
  status_code  integer NOT NULL,
  error_code   text,
  details      jsonb
);

CREATE INDEX audit_log_by_time ON backtrack.audit_log (at, id);
CREATE INDEX audit_log_by_tenant ON backtrack.audit_log (tenant_id, at, id);

CREATE FUNCTION backtrack.audit_log_is_append_only() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'backtrack.audit_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update_or_delete
  BEFORE UPDATE OR DELETE ON backtrack.audit_log
  FOR EACH ROW EXECUTE FUNCTION backtrack.audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate
  BEFORE TRUNCATE ON backtrack.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION backtrack.audit_log_is_append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON backtrack.audit_log FROM PUBLIC;

-- Fixed-window rate-limit counters per tenant and endpoint bucket, shared by every API
-- instance: one atomic INSERT … ON CONFLICT … RETURNING per request.
CREATE TABLE backtrack.rate_limit_counters (
  tenant_id     text NOT NULL,
  bucket        text NOT NULL,
  window_start  timestamptz NOT NULL,
  count         integer NOT NULL CHECK (count > 0),
  PRIMARY KEY (tenant_id, bucket, window_start)
);

-- Health scores as computed, for trends.
CREATE TABLE backtrack.health_snapshots (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id   text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  score       integer NOT NULL CHECK (score BETWEEN 0 AND 100),
  parts       jsonb NOT NULL
);

CREATE INDEX health_snapshots_by_tenant ON backtrack.health_snapshots (tenant_id, at DESC);
