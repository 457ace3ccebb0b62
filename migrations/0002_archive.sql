-- The archive and base snapshots: tenants, archived partition ranges and the segments in
-- them, base snapshots and their tables. See DESIGN §2.4, §2.5 and shared/archive/coverage.ts.

-- Every tenant the archive or the snapshotter has seen.
CREATE TABLE backtrack.tenants (
  tenant_id         text PRIMARY KEY CHECK (tenant_id <> ''),
  first_seen_at     timestamptz NOT NULL DEFAULT now(),
  last_archived_at  timestamptz,
  last_snapshot_at  timestamptz
);

-- Partition counts of the log topics the archiver reads, so a tenant's partition can be
-- computed from the catalog alone (murmur2 of the tenant id, as the producer does).
CREATE TABLE backtrack.archive_topics (
  topic        text PRIMARY KEY,
  partitions   integer NOT NULL CHECK (partitions > 0),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per flush: consumer positions [from_offset, to_offset) of one partition, read in
-- full. Every tenant with events in it has a segment; a tenant without one had no events
-- there. Ranges of a partition never overlap (the flush checks under a lock); a stretch
-- between two ranges is a gap. Commit columns are over the events of every tenant.
CREATE TABLE backtrack.archive_ranges (
  topic            text NOT NULL,
  partition        integer NOT NULL CHECK (partition >= 0),
  from_offset      bigint NOT NULL CHECK (from_offset >= 0),
  to_offset        bigint NOT NULL,
  event_count      integer NOT NULL CHECK (event_count >= 0),
  segment_count    integer NOT NULL CHECK (segment_count >= 0),
  min_commit_lsn   pg_lsn,
  max_commit_lsn   pg_lsn,
  min_commit_time  timestamptz,
  max_commit_time  timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, partition, from_offset),
  UNIQUE (topic, partition, to_offset),
  CHECK (to_offset > from_offset)
);

-- Segments: one tenant's events of one range, or (after compaction) of several contiguous
-- ranges [range_from, range_to). Rows stay after compaction, marked compacted, until their
-- objects are deleted (delete_after).
CREATE TABLE backtrack.segments (
  key                 text PRIMARY KEY,
  tenant_id           text NOT NULL REFERENCES backtrack.tenants (tenant_id),
  topic               text NOT NULL,
  partition           integer NOT NULL CHECK (partition >= 0),
  range_from          bigint NOT NULL,
  range_to            bigint NOT NULL,
  first_offset        bigint NOT NULL,
  last_offset         bigint NOT NULL,
  event_count         integer NOT NULL CHECK (event_count > 0),
  min_commit_lsn      pg_lsn NOT NULL,
  max_commit_lsn      pg_lsn NOT NULL,
  min_commit_time     timestamptz NOT NULL,
  max_commit_time     timestamptz NOT NULL,
  size_bytes          bigint NOT NULL CHECK (size_bytes > 0),
  sha256              text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  codec               text NOT NULL,
  encrypted           boolean NOT NULL,
  key_id              text,
  schema_fingerprint  text NOT NULL,
  state               text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'compacted')),
  compacted_into      text REFERENCES backtrack.segments (key) ON DELETE SET NULL,
  delete_after        timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  CHECK (range_from <= first_offset AND first_offset <= last_offset AND last_offset < range_to),
  CHECK (encrypted = (key_id IS NOT NULL)),
  CHECK ((state = 'compacted') = (delete_after IS NOT NULL))
);

CREATE INDEX segments_by_tenant
  ON backtrack.segments (tenant_id, topic, partition, first_offset)
  WHERE state = 'active';
CREATE INDEX segments_to_delete
  ON backtrack.segments (delete_after)
  WHERE state = 'compacted';

-- Base snapshots of one tenant. snapshot_xmin/xmax/xip are pg_current_snapshot() of the snapshot
-- transaction; log_offset is the last stable offset of the tenant's partition read before
-- it began (every event of a transaction invisible to the snapshot is at or after it), and
-- truncate_offset the same for the partition of `_all`.
CREATE TABLE backtrack.base_snapshots (
  id                 uuid PRIMARY KEY,
  tenant_id          text NOT NULL REFERENCES backtrack.tenants (tenant_id),
  kind               text NOT NULL CHECK (kind IN ('full', 'schema', 'pre_restore')),
  status             text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
  snapshot_xmin      xid8,
  snapshot_xmax      xid8,
  snapshot_xip       xid8[],
  lsn                pg_lsn,
  log_topic          text NOT NULL,
  log_partition      integer NOT NULL,
  log_offset         bigint,
  truncate_partition integer NOT NULL,
  truncate_offset    bigint,
  taken_at           timestamptz,
  started_at         timestamptz NOT NULL DEFAULT now(),
  completed_at       timestamptz,
  expires_at         timestamptz,
  table_count        integer NOT NULL DEFAULT 0,
  row_count          bigint NOT NULL DEFAULT 0,
  size_bytes         bigint NOT NULL DEFAULT 0,
  manifest_key       text,
  manifest_sha256    text,
  encrypted          boolean NOT NULL DEFAULT false,
  key_id             text,
  error              text,
  created_by         text NOT NULL,
  label              text,
  CHECK (status <> 'completed' OR (snapshot_xmax IS NOT NULL AND taken_at IS NOT NULL AND log_offset IS NOT NULL AND manifest_key IS NOT NULL))
);

CREATE INDEX base_snapshots_by_tenant ON backtrack.base_snapshots (tenant_id, taken_at);

-- The tables of a snapshot: definition as of the snapshot, and for kind full/pre_restore
-- the object holding the tenant's rows (COPY text format, gzip, maybe encrypted).
CREATE TABLE backtrack.snapshot_tables (
  snapshot_id   uuid NOT NULL REFERENCES backtrack.base_snapshots (id) ON DELETE CASCADE,
  schema_name   text NOT NULL,
  table_name    text NOT NULL,
  position      integer NOT NULL,
  object_key    text,
  row_count     bigint,
  size_bytes    bigint,
  sha256        text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  definition    jsonb NOT NULL,
  PRIMARY KEY (snapshot_id, schema_name, table_name)
);
