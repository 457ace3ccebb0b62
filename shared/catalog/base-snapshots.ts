/**
 * `backtrack.base_snapshots`: per-tenant snapshots, from `running` to `completed` (or
 * `failed`). A completed snapshot records pg_current_snapshot() (xmin, xmax, xip as xid8),
 * the WAL position, when it was taken, and the log positions read before it began, which
 * is what a restore aligns the log with (shared/archive/alignment.ts).
 */
import { z } from 'zod';

import type { XidSnapshot } from '../archive/alignment.js';
import { BacktrackError } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { PgPool, Queryable } from '../pg/index.js';

import { int4, int8, lsn, parseRows, timestamp, xid8Array } from './columns.js';
import { insertSnapshotTables, type NewSnapshotTable } from './snapshot-tables.js';
import { touchTenants } from './tenants.js';

/** Kinds of base snapshots. */
export const SNAPSHOT_KINDS = ['full', 'schema', 'pre_restore'] as const;
export type SnapshotKind = (typeof SNAPSHOT_KINDS)[number];

/** A base snapshot as the catalog knows it. */
export interface BaseSnapshot {
  readonly id: string;
  readonly tenant: string;
  readonly kind: SnapshotKind;
  readonly status: 'running' | 'completed' | 'failed';
  /** pg_current_snapshot() of the snapshot transaction (null until completed). */
  readonly xids: XidSnapshot | null;
  readonly lsn: Lsn | null;
  readonly logTopic: string;
  readonly logPartition: number;
  /** Last stable offset of the tenant's partition, read before the snapshot began. */
  readonly logOffset: bigint | null;
  readonly truncatePartition: number;
  readonly truncateOffset: bigint | null;
  readonly takenAt: Date | null;
  /** The same, exact: microseconds since the Unix epoch. */
  readonly takenAtUs: bigint | null;
  readonly startedAt: Date;
  readonly completedAt: Date | null;
  readonly expiresAt: Date | null;
  readonly tableCount: number;
  readonly rowCount: bigint;
  readonly sizeBytes: number;
  readonly manifestKey: string | null;
  readonly manifestSha256: string | null;
  readonly encrypted: boolean;
  readonly keyId: string | null;
  readonly error: string | null;
  readonly createdBy: string;
  readonly label: string | null;
}

const COLUMNS = `id::text AS id, tenant_id, kind, status, snapshot_xmin::text AS xmin,
  snapshot_xmax::text AS xmax, snapshot_xip::text[] AS xip, lsn::text AS lsn, log_topic,
  log_partition, log_offset, truncate_partition, truncate_offset, taken_at,
  (extract(epoch FROM taken_at) * 1000000)::bigint AS taken_at_us, started_at, completed_at,
  expires_at, table_count, row_count, size_bytes, manifest_key, manifest_sha256, encrypted,
  key_id, error, created_by, label`;

const snapshotRow = z
  .object({
    id: z.string(),
    tenant_id: z.string(),
    kind: z.enum(SNAPSHOT_KINDS),
    status: z.enum(['running', 'completed', 'failed']),
    xmin: int8.nullable(),
    xmax: int8.nullable(),
    xip: xid8Array.nullable(),
    lsn: lsn.nullable(),
    log_topic: z.string(),
    log_partition: int4,
    log_offset: int8.nullable(),
    truncate_partition: int4,
    truncate_offset: int8.nullable(),
    taken_at: timestamp.nullable(),
    taken_at_us: int8.nullable(),
    started_at: timestamp,
    completed_at: timestamp.nullable(),
    expires_at: timestamp.nullable(),
    table_count: int4,
    row_count: int8,
    size_bytes: int8,
    manifest_key: z.string().nullable(),
    manifest_sha256: z.string().nullable(),
    encrypted: z.boolean(),
    key_id: z.string().nullable(),
    error: z.string().nullable(),
    created_by: z.string(),
    label: z.string().nullable(),
  })
  .transform((r): BaseSnapshot => ({
    id: r.id,
    tenant: r.tenant_id,
    kind: r.kind,
    status: r.status,
    xids:
      r.xmin !== null && r.xmax !== null ? { xmin: r.xmin, xmax: r.xmax, xip: r.xip ?? [] } : null,
    lsn: r.lsn,
    logTopic: r.log_topic,
    logPartition: r.log_partition,
    logOffset: r.log_offset,
    truncatePartition: r.truncate_partition,
    truncateOffset: r.truncate_offset,
    takenAt: r.taken_at,
    takenAtUs: r.taken_at_us,
    startedAt: r.started_at,
    completedAt: r.completed_at,
    expiresAt: r.expires_at,
    tableCount: r.table_count,
    rowCount: r.row_count,
    sizeBytes: Number(r.size_bytes),
    manifestKey: r.manifest_key,
    manifestSha256: r.manifest_sha256,
    encrypted: r.encrypted,
    keyId: r.key_id,
    error: r.error,
    createdBy: r.created_by,
    label: r.label,
  }));

/** A snapshot being started. */
export interface NewSnapshot {
  readonly id: string;
  readonly tenant: string;
  readonly kind: SnapshotKind;
  readonly logTopic: string;
  readonly logPartition: number;
  readonly logOffset: bigint;
  readonly truncatePartition: number;
  readonly truncateOffset: bigint;
  readonly expiresAt: Date | null;
  readonly keyId: string | undefined;
  readonly createdBy: string;
  readonly label: string | undefined;
}

/** Records a snapshot as running (and the tenant as known). */
export async function insertRunningSnapshot(pool: PgPool, s: NewSnapshot): Promise<void> {
  await pool.transaction(async (session) => {
    await touchTenants(session, [s.tenant], 'snapshot');
    await session.query(
      `INSERT INTO backtrack.base_snapshots (id, tenant_id, kind, status, log_topic, log_partition,
         log_offset, truncate_partition, truncate_offset, expires_at, encrypted, key_id, created_by, label)
       VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        s.id,
        s.tenant,
        s.kind,
        s.logTopic,
        s.logPartition,
        s.logOffset.toString(),
        s.truncatePartition,
        s.truncateOffset.toString(),
        s.expiresAt,
        s.keyId !== undefined,
        s.keyId ?? null,
        s.createdBy,
        s.label ?? null,
      ],
    );
  });
}

/** What a completed snapshot adds. */
export interface SnapshotCompletion {
  readonly xids: XidSnapshot;
  readonly lsn: Lsn;
  /** `taken_at` as Postgres text (microseconds kept). */
  readonly takenAt: string;
  readonly tables: readonly NewSnapshotTable[];
  readonly manifestKey: string;
  readonly manifestSha256: string;
  readonly manifestSize: number;
}

/** Marks a snapshot completed with its tables, in one transaction. */
export async function completeSnapshot(
  pool: PgPool,
  id: string,
  c: SnapshotCompletion,
): Promise<void> {
  await pool.transaction(async (session) => {
    await insertSnapshotTables(session, id, c.tables);
    const rows = c.tables.reduce((n, t) => n + (t.rows ?? 0n), 0n);
    const bytes = c.tables.reduce((n, t) => n + (t.sizeBytes ?? 0), c.manifestSize);
    await session.query(
      `UPDATE backtrack.base_snapshots
          SET status = 'completed', snapshot_xmin = $2::text::xid8, snapshot_xmax = $3::text::xid8,
              snapshot_xip = $4::text[]::xid8[], lsn = $5::pg_lsn, taken_at = $6::timestamptz,
              completed_at = now(), table_count = $7, row_count = $8, size_bytes = $9,
              manifest_key = $10, manifest_sha256 = $11
        WHERE id = $1 AND status = 'running'`,
      [
        id,
        c.xids.xmin.toString(),
        c.xids.xmax.toString(),
        c.xids.xip.map(String),
        formatLsn(c.lsn),
        c.takenAt,
        c.tables.length,
        rows.toString(),
        String(bytes),
        c.manifestKey,
        c.manifestSha256,
      ],
    );
  });
}

/** Marks a snapshot failed, with the reason. */
export async function failSnapshot(db: Queryable, id: string, error: string): Promise<void> {
  await db.query(
    `UPDATE backtrack.base_snapshots SET status = 'failed', error = $2, completed_at = now()
      WHERE id = $1 AND status = 'running'`,
    [id, error],
  );
}

/** The snapshot, or SNAPSHOT_NOT_FOUND. */
export async function requireSnapshot(db: Queryable, id: string): Promise<BaseSnapshot> {
  const result = /^[0-9a-f-]{36}$/i.test(id)
    ? await db.query(`SELECT ${COLUMNS} FROM backtrack.base_snapshots WHERE id = $1`, [id])
    : { rows: [] };
  const [snapshot] = parseRows('requireSnapshot', snapshotRow, result.rows);
  if (!snapshot) {
    throw new BacktrackError(
      'SNAPSHOT_NOT_FOUND',
      `snapshot ${id} does not exist; list them with \`backtrack restore-points --tenant …\``,
      {
        details: { snapshot: id },
      },
    );
  }
  return snapshot;
}

/** Which snapshots to list. */
export interface SnapshotFilter {
  readonly tenant?: string;
  readonly status?: BaseSnapshot['status'];
  readonly kinds?: readonly SnapshotKind[];
}

/** Snapshots, oldest first (by taken_at, then start). */
export async function listSnapshots(
  db: Queryable,
  filter: SnapshotFilter = {},
): Promise<BaseSnapshot[]> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.base_snapshots
      WHERE ($1::text IS NULL OR tenant_id = $1)
        AND ($2::text IS NULL OR status = $2)
        AND ($3::text[] IS NULL OR kind = ANY ($3::text[]))
      ORDER BY taken_at NULLS LAST, started_at`,
    [filter.tenant ?? null, filter.status ?? null, filter.kinds ? [...filter.kinds] : null],
  );
  return parseRows('listSnapshots', snapshotRow, result.rows);
}

/**
 * The newest completed data snapshot (full or pre_restore) of `tenant` taken at or before
 * `instantUs` (microseconds since the epoch): where a restore to that instant starts.
 */
export async function latestSnapshotAtOrBefore(
  db: Queryable,
  tenant: string,
  instantUs: bigint,
): Promise<BaseSnapshot | undefined> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.base_snapshots
      WHERE tenant_id = $1 AND status = 'completed' AND kind IN ('full', 'pre_restore')
        AND taken_at <= timestamptz 'epoch' + $2::bigint * interval '1 microsecond'
      ORDER BY taken_at DESC LIMIT 1`,
    [tenant, instantUs.toString()],
  );
  return parseRows('latestSnapshotAtOrBefore', snapshotRow, result.rows)[0];
}
