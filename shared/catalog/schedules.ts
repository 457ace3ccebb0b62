/**
 * `backtrack.schedules`: cron schedules (with a time zone) that create jobs. The scheduler's
 * leader reads the due ones and advances `next_run_at`; the API creates, changes and
 * deletes them per tenant.
 */
import { z } from 'zod';

import type { Queryable } from '../pg/index.js';

import { int4, parseRows, timestamp } from './columns.js';

/** Job types a schedule can create. */
export const SCHEDULE_JOB_TYPES = ['snapshot', 'verify', 'dr-test', 'compaction'] as const;
export type ScheduleJobType = (typeof SCHEDULE_JOB_TYPES)[number];

/** A schedule. */
export interface Schedule {
  readonly id: string;
  readonly tenant: string;
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  readonly jobType: ScheduleJobType;
  /** Parameters of the jobs it creates (JSON, checked by the API when written). */
  readonly params: unknown;
  readonly enabled: boolean;
  readonly retentionDays: number | null;
  readonly maxBackups: number | null;
  readonly notificationTargets: readonly string[];
  readonly nextRunAt: Date | null;
  readonly lastRunAt: Date | null;
  readonly lastJobId: string | null;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

const scheduleRow = z
  .object({
    id: z.string(),
    tenant_id: z.string(),
    name: z.string(),
    cron: z.string(),
    timezone: z.string(),
    job_type: z.enum(SCHEDULE_JOB_TYPES),
    params: z.unknown(),
    enabled: z.boolean(),
    retention_days: int4.nullable(),
    max_backups: int4.nullable(),
    notification_targets: z.array(z.string()),
    next_run_at: timestamp.nullable(),
    last_run_at: timestamp.nullable(),
    last_job_id: z.string().nullable(),
    created_by: z.string(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .transform((r): Schedule => ({
    id: r.id,
    tenant: r.tenant_id,
    name: r.name,
    cron: r.cron,
    timezone: r.timezone,
    jobType: r.job_type,
    params: r.params ?? {},
    enabled: r.enabled,
    retentionDays: r.retention_days,
    maxBackups: r.max_backups,
    notificationTargets: r.notification_targets,
    nextRunAt: r.next_run_at,
    lastRunAt: r.last_run_at,
    lastJobId: r.last_job_id,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }));

const COLUMNS = `id::text AS id, tenant_id, name, cron, timezone, job_type, params, enabled,
  retention_days, max_backups, notification_targets, next_run_at, last_run_at,
  last_job_id::text AS last_job_id, created_by, created_at, updated_at`;

/** The fields a client sets. */
export interface ScheduleFields {
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  readonly jobType: ScheduleJobType;
  readonly params: unknown;
  readonly enabled: boolean;
  readonly retentionDays: number | null;
  readonly maxBackups: number | null;
  readonly notificationTargets: readonly string[];
}

/** Creates a schedule whose first run is `nextRunAt`. */
export async function insertSchedule(
  db: Queryable,
  s: ScheduleFields & { id: string; tenant: string; createdBy: string; nextRunAt: Date | null },
): Promise<Schedule> {
  const result = await db.query(
    `INSERT INTO backtrack.schedules (id, tenant_id, name, cron, timezone, job_type, params, enabled,
       retention_days, max_backups, notification_targets, next_run_at, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     RETURNING ${COLUMNS}`,
    [
      s.id,
      s.tenant,
      s.name,
      s.cron,
      s.timezone,
      s.jobType,
      JSON.stringify(s.params ?? {}),
      s.enabled,
      s.retentionDays,
      s.maxBackups,
      [...s.notificationTargets],
      s.nextRunAt,
      s.createdBy,
    ],
  );
  return parseRows('insertSchedule', scheduleRow, result.rows)[0] as Schedule;
}

/** Replaces the client's fields of a schedule of `tenant`; undefined when there is none. */
export async function updateSchedule(
  db: Queryable,
  tenant: string,
  id: string,
  s: ScheduleFields & { nextRunAt: Date | null },
): Promise<Schedule | undefined> {
  const result = await db.query(
    `UPDATE backtrack.schedules
        SET name = $3, cron = $4, timezone = $5, job_type = $6, params = $7, enabled = $8,
            retention_days = $9, max_backups = $10, notification_targets = $11, next_run_at = $12,
            updated_at = now()
      WHERE tenant_id = $1 AND id = $2::uuid
      RETURNING ${COLUMNS}`,
    [
      tenant,
      id,
      s.name,
      s.cron,
      s.timezone,
      s.jobType,
      JSON.stringify(s.params ?? {}),
      s.enabled,
      s.retentionDays,
      s.maxBackups,
      [...s.notificationTargets],
      s.nextRunAt,
    ],
  );
  return parseRows('updateSchedule', scheduleRow, result.rows)[0];
}

/** Deletes a schedule of `tenant`; false when there was none. */
export async function deleteSchedule(db: Queryable, tenant: string, id: string): Promise<boolean> {
  const result = await db.query(
    `DELETE FROM backtrack.schedules WHERE tenant_id = $1 AND id = $2::uuid`,
    [tenant, id],
  );
  return result.rowCount > 0;
}

/** One schedule of `tenant`, or undefined. */
export async function findSchedule(
  db: Queryable,
  tenant: string,
  id: string,
): Promise<Schedule | undefined> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.schedules WHERE tenant_id = $1 AND id = $2::uuid`,
    [tenant, id],
  );
  return parseRows('findSchedule', scheduleRow, result.rows)[0];
}

/** Schedules of a tenant (every tenant when undefined), by name. */
export async function listSchedules(
  db: Queryable,
  filter: { tenant?: string; enabledOnly?: boolean; limit?: number; offset?: number } = {},
): Promise<Schedule[]> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.schedules
      WHERE ($1::text IS NULL OR tenant_id = $1) AND (NOT $2 OR enabled)
      ORDER BY tenant_id, name LIMIT $3 OFFSET $4`,
    [filter.tenant ?? null, filter.enabledOnly === true, filter.limit ?? 1000, filter.offset ?? 0],
  );
  return parseRows('listSchedules', scheduleRow, result.rows);
}

/** Enabled schedules whose next run is due at `now`, locked for the caller's transaction. */
export async function lockDueSchedules(db: Queryable, limit = 100): Promise<Schedule[]> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.schedules
      WHERE enabled AND next_run_at IS NOT NULL AND next_run_at <= now()
      ORDER BY next_run_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return parseRows('lockDueSchedules', scheduleRow, result.rows);
}

/** Records that a schedule ran (created `jobId`) and when it runs next. */
export async function markScheduleRun(
  db: Queryable,
  id: string,
  jobId: string,
  nextRunAt: Date | null,
): Promise<void> {
  await db.query(
    `UPDATE backtrack.schedules SET last_run_at = now(), last_job_id = $2, next_run_at = $3 WHERE id = $1`,
    [id, jobId, nextRunAt],
  );
}
