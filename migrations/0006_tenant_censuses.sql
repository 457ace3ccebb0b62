-- Tenant censuses (DESIGN §2.5): which tenants had rows in the captured tables at one
-- instant. `backtrack snapshot --all` takes one before its snapshots, in a REPEATABLE READ
-- transaction of its own, with the log positions of every partition read before it began.
-- A tenant absent from a census provably had no rows at taken_at, so a restore of it can
-- start there from an empty base (its definitions are the census's) and the log after it:
-- a tenant born after the last snapshot is restorable from its first row.
CREATE TABLE backtrack.tenant_censuses (
  id                 uuid PRIMARY KEY,
  log_topic          text NOT NULL,
  -- Last stable offset of each partition of log_topic (index = partition), read before the
  -- census transaction began.
  partition_offsets  bigint[] NOT NULL CHECK (cardinality(partition_offsets) > 0),
  snapshot_xmin      xid8 NOT NULL,
  snapshot_xmax      xid8 NOT NULL,
  snapshot_xip       xid8[] NOT NULL,
  lsn                pg_lsn NOT NULL,
  taken_at           timestamptz NOT NULL,
  -- The tenants with at least one row in a captured table, sorted.
  tenants            text[] NOT NULL,
  -- The captured tables' definitions at taken_at: [{schema, table, position, definition}].
  tables             jsonb NOT NULL,
  created_by         text NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX tenant_censuses_by_topic ON backtrack.tenant_censuses (log_topic, taken_at);
