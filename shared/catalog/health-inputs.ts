/**
 * The aggregates the health score and the statistics read from the catalog, per tenant and
 * period: operations that succeeded or failed, the newest full snapshot, stored bytes live
 * and dead, and per schedule the jobs it completed.
 */
import { z } from 'zod';

import type { Queryable } from '../pg/index.js';

import { int8, parseRows, timestamp } from './columns.js';

/** Operations of the period: base snapshots, verify jobs and DR tests. */
export interface OperationCounts {
  readonly succeeded: number;
  readonly failed: number;
}

const countsRow = z.object({ succeeded: int8, failed: int8 });

/** Counts full and schema snapshots started, and verify jobs and DR tests finished, since `since`. */
export async function operationCounts(
  db: Queryable,
  tenant: string,
  since: Date,
): Promise<OperationCounts> {
  const result = await db.query(
    `SELECT count(*) FILTER (WHERE ok) AS succeeded, count(*) FILTER (WHERE NOT ok) AS failed FROM (
       SELECT status = 'completed' AS ok FROM backtrack.base_snapshots
        WHERE tenant_id = $1 AND kind IN ('full', 'schema') AND status <> 'running' AND started_at >= $2
       UNION ALL
       SELECT status = 'completed' FROM backtrack.jobs
        WHERE tenant_id = $1 AND type = 'verify' AND status IN ('completed', 'failed') AND finished_at >= $2
       UNION ALL
       SELECT status = 'passed' FROM backtrack.dr_tests
        WHERE tenant_id = $1 AND status <> 'running' AND finished_at >= $2) o`,
    [tenant, since],
  );
  const [row] = parseRows('operationCounts', countsRow, result.rows);
  return { succeeded: Number(row?.succeeded ?? 0n), failed: Number(row?.failed ?? 0n) };
}

/** When the newest completed full snapshot of the tenant was taken, or null. */
export async function newestFullSnapshotAt(db: Queryable, tenant: string): Promise<Date | null> {
  const result = await db.query(
    `SELECT max(taken_at) AS at FROM backtrack.base_snapshots
      WHERE tenant_id = $1 AND kind = 'full' AND status = 'completed'`,
    [tenant],
  );
  const [row] = parseRows(
    'newestFullSnapshotAt',
    z.object({ at: timestamp.nullable() }),
    result.rows,
  );
  return row?.at ?? null;
}

/** Bytes stored for a tenant: live (needed) and dead (awaiting deletion, expired, failed). */
export interface StoredBytes {
  readonly liveBytes: number;
  readonly deadBytes: number;
  readonly activeSegments: number;
}

/** Stored bytes of the tenant's segments and snapshots. */
export async function storedBytes(db: Queryable, tenant: string): Promise<StoredBytes> {
  const result = await db.query(
    `SELECT
       coalesce((SELECT sum(size_bytes) FROM backtrack.segments WHERE tenant_id = $1 AND state = 'active'), 0)
       + coalesce((SELECT sum(size_bytes) FROM backtrack.base_snapshots WHERE tenant_id = $1 AND status = 'completed'
                     AND (expires_at IS NULL OR expires_at > now())), 0) AS live,
       coalesce((SELECT sum(size_bytes) FROM backtrack.segments WHERE tenant_id = $1 AND state = 'compacted'), 0)
       + coalesce((SELECT sum(size_bytes) FROM backtrack.base_snapshots WHERE tenant_id = $1
                     AND (status = 'failed' OR (expires_at IS NOT NULL AND expires_at <= now()))), 0) AS dead,
       (SELECT count(*) FROM backtrack.segments WHERE tenant_id = $1 AND state = 'active') AS segments`,
    [tenant],
  );
  const [row] = parseRows(
    'storedBytes',
    z.object({ live: int8, dead: int8, segments: int8 }),
    result.rows,
  );
  return {
    liveBytes: Number(row?.live ?? 0n),
    deadBytes: Number(row?.dead ?? 0n),
    activeSegments: Number(row?.segments ?? 0n),
  };
}

/** Jobs a schedule created since `since` that completed. */
export async function completedScheduleJobs(
  db: Queryable,
  scheduleId: string,
  since: Date,
): Promise<number> {
  const result = await db.query(
    `SELECT count(*) AS n FROM backtrack.jobs
      WHERE schedule_id = $1::uuid AND status = 'completed' AND created_at >= $2`,
    [scheduleId, since],
  );
  const [row] = parseRows('completedScheduleJobs', z.object({ n: int8 }), result.rows);
  return Number(row?.n ?? 0n);
}

/** Backup statistics of a period. */
export interface BackupStatistics {
  readonly totalBackups: number;
  readonly successfulBackups: number;
  readonly failedBackups: number;
  readonly totalSizeBytes: number;
  readonly avgDurationSeconds: number | null;
  readonly restores: number;
  readonly rollbacks: number;
  readonly drTests: number;
  readonly drTestsPassed: number;
}

const statsRow = z.object({
  total: int8,
  ok: int8,
  failed: int8,
  bytes: int8,
  avg_seconds: z.number().nullable(),
  restores: int8,
  rollbacks: int8,
  dr_tests: int8,
  dr_passed: int8,
});

/** Statistics of the tenant since `since`. */
export async function backupStatistics(
  db: Queryable,
  tenant: string,
  since: Date,
): Promise<BackupStatistics> {
  const result = await db.query(
    `SELECT count(*) AS total,
            count(*) FILTER (WHERE s.status = 'completed') AS ok,
            count(*) FILTER (WHERE s.status = 'failed') AS failed,
            coalesce(sum(s.size_bytes) FILTER (WHERE s.status = 'completed'), 0) AS bytes,
            (avg(extract(epoch FROM s.completed_at - s.started_at)) FILTER (WHERE s.status = 'completed'))::float8 AS avg_seconds,
            (SELECT count(*) FROM backtrack.restore_operations
              WHERE tenant_id = $1 AND kind = 'restore' AND NOT dry_run AND started_at >= $2) AS restores,
            (SELECT count(*) FROM backtrack.restore_operations
              WHERE tenant_id = $1 AND kind = 'rollback' AND NOT dry_run AND started_at >= $2) AS rollbacks,
            (SELECT count(*) FROM backtrack.dr_tests WHERE tenant_id = $1 AND started_at >= $2) AS dr_tests,
            (SELECT count(*) FROM backtrack.dr_tests
              WHERE tenant_id = $1 AND started_at >= $2 AND status = 'passed') AS dr_passed
       FROM backtrack.base_snapshots s
      WHERE s.tenant_id = $1 AND s.kind IN ('full', 'schema') AND s.started_at >= $2`,
    [tenant, since],
  );
  const [row] = parseRows('backupStatistics', statsRow, result.rows);
  return {
    totalBackups: Number(row?.total ?? 0n),
    successfulBackups: Number(row?.ok ?? 0n),
    failedBackups: Number(row?.failed ?? 0n),
    totalSizeBytes: Number(row?.bytes ?? 0n),
    avgDurationSeconds: row?.avg_seconds ?? null,
    restores: Number(row?.restores ?? 0n),
    rollbacks: Number(row?.rollbacks ?? 0n),
    drTests: Number(row?.dr_tests ?? 0n),
    drTestsPassed: Number(row?.dr_passed ?? 0n),
  };
}
