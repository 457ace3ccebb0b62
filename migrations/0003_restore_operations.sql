-- Restore operations and rollbacks (DESIGN §2.6): what was asked, by whom, from which
-- snapshot, with which pre-restore snapshot, and how it ended. A row left 'running' by a
-- process that died is marked 'abandoned' by the next operation on the same tenant.
CREATE TABLE backtrack.restore_operations (
  id                       uuid PRIMARY KEY,
  tenant_id                text NOT NULL,
  kind                     text NOT NULL CHECK (kind IN ('restore', 'rollback')),
  mode                     text NOT NULL CHECK (mode IN ('schema', 'in-place')),
  target                   text NOT NULL,
  target_schema            text,
  tables                   text[],
  dry_run                  boolean NOT NULL,
  status                   text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'abandoned')),
  base_snapshot_id         uuid,
  pre_restore_snapshot_id  uuid,
  -- For a rollback: the pre-restore snapshot it went back to.
  rollback_of_snapshot_id  uuid,
  reason                   text,
  actor                    text NOT NULL,
  started_at               timestamptz NOT NULL DEFAULT now(),
  finished_at              timestamptz,
  tables_restored          integer,
  rows_restored            bigint,
  events_replayed          bigint,
  summary                  jsonb,
  error_code               text,
  error                    text,
  CHECK ((status = 'running') = (finished_at IS NULL)),
  CHECK (kind <> 'rollback' OR (mode = 'in-place' AND rollback_of_snapshot_id IS NOT NULL))
);

CREATE INDEX restore_operations_by_tenant ON backtrack.restore_operations (tenant_id, started_at DESC);

-- Rollback history: who rolled back which restore, when, and why.
CREATE VIEW backtrack.rollbacks AS
  SELECT id, tenant_id, rollback_of_snapshot_id, pre_restore_snapshot_id, reason, actor, status,
         started_at, finished_at, rows_restored, error_code, error
    FROM backtrack.restore_operations
   WHERE kind = 'rollback';
