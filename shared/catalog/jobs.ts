/**
 * `backtrack.jobs`: long operations run by workers. A job is queued, claimed by one worker
 * with `FOR UPDATE SKIP LOCKED` (so concurrent workers never take the same one), kept
 * alive by the worker's heartbeat on its lease, and finished as completed or failed. A job
 * whose lease expired (its worker died) is claimed again until it used `max_attempts`.
 */
import { z } from 'zod';

import { BacktrackError } from '../errors.js';
import { type Queryable, sqlState } from '../pg/index.js';

import { int4, parseRows, timestamp } from './columns.js';
import { catalogLocation } from './readiness.js';

/** Kinds of jobs. */
export const JOB_TYPES = [
  'snapshot',
  'restore',
  'rollback',
  'verify',
  'dr-test',
  'compaction',
] as const;
export type JobType = (typeof JOB_TYPES)[number];

/** States of a job. */
export const JOB_STATUSES = ['queued', 'running', 'completed', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A job as the catalog knows it. `params`, `progress` and `result` are JSON, narrowed by the caller. */
export interface Job {
  readonly id: string;
  readonly tenant: string;
  readonly type: JobType;
  readonly status: JobStatus;
  readonly params: unknown;
  readonly exclusive: boolean;
  readonly progress: unknown;
  readonly result: unknown;
  readonly errorCode: string | null;
  readonly error: string | null;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly runAfter: Date;
  readonly leaseOwner: string | null;
  readonly leaseExpiresAt: Date | null;
  readonly scheduleId: string | null;
  readonly createdBy: string;
  readonly requestId: string | null;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly updatedAt: Date;
}

const jobRow = z
  .object({
    id: z.string(),
    tenant_id: z.string(),
    type: z.enum(JOB_TYPES),
    status: z.enum(JOB_STATUSES),
    params: z.unknown(),
    exclusive: z.boolean(),
    progress: z.unknown(),
    result: z.unknown(),
    error_code: z.string().nullable(),
    error: z.string().nullable(),
    attempts: int4,
    max_attempts: int4,
    run_after: timestamp,
    lease_owner: z.string().nullable(),
    lease_expires_at: timestamp.nullable(),
    schedule_id: z.string().nullable(),
    created_by: z.string(),
    request_id: z.string().nullable(),
    created_at: timestamp,
    started_at: timestamp.nullable(),
    finished_at: timestamp.nullable(),
    updated_at: timestamp,
  })
  .transform((r): Job => ({
    id: r.id,
    tenant: r.tenant_id,
    type: r.type,
    status: r.status,
    params: r.params,
    exclusive: r.exclusive,
    progress: r.progress ?? null,
    result: r.result ?? null,
    errorCode: r.error_code,
    error: r.error,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    runAfter: r.run_after,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at,
    scheduleId: r.schedule_id,
    createdBy: r.created_by,
    requestId: r.request_id,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
  }));

const COLUMNS = `id::text AS id, tenant_id, type, status, params, exclusive, progress, result,
  error_code, error, attempts, max_attempts, run_after, lease_owner, lease_expires_at,
  schedule_id::text AS schedule_id, created_by, request_id, created_at, started_at, finished_at,
  updated_at`;

/** A job to queue. */
export interface NewJob {
  readonly id: string;
  readonly tenant: string;
  readonly type: JobType;
  readonly params: unknown;
  /** At most one exclusive job per tenant is queued or running (restores, rollbacks). */
  readonly exclusive?: boolean;
  readonly maxAttempts?: number;
  readonly scheduleId?: string;
  readonly createdBy: string;
  readonly requestId?: string;
}

const json = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

/**
 * Queues a job. An exclusive job while another exclusive job of the tenant is queued or
 * running is refused with RESTORE_IN_PROGRESS (a unique index decides, across instances).
 */
export async function enqueueJob(db: Queryable, job: NewJob): Promise<Job> {
  try {
    const result = await db.query(
      `INSERT INTO backtrack.jobs (id, tenant_id, type, status, params, exclusive, max_attempts, schedule_id, created_by, request_id)
       VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9)
       RETURNING ${COLUMNS}`,
      [
        job.id,
        job.tenant,
        job.type,
        json(job.params),
        job.exclusive ?? false,
        job.maxAttempts ?? 3,
        job.scheduleId ?? null,
        job.createdBy,
        job.requestId ?? null,
      ],
    );
    const [created] = parseRows('enqueueJob', jobRow, result.rows);
    if (!created) throw new BacktrackError('INTERNAL', 'enqueueJob returned no row');
    return created;
  } catch (e) {
    if (sqlState(e) === '23505' && job.exclusive === true) {
      throw new BacktrackError(
        'RESTORE_IN_PROGRESS',
        `tenant ${job.tenant} already has a restore or rollback queued or running; wait for it to finish (GET /v1/jobs lists it)`,
        { details: { tenant: job.tenant } },
      );
    }
    throw e;
  }
}

/**
 * Claims the oldest runnable job for `owner`: a queued one whose time has come, or a
 * running one whose lease expired (its worker died). SKIP LOCKED keeps concurrent claims
 * apart; the lease lasts `leaseMs` unless the worker's heartbeat renews it.
 */
export async function claimJob(
  db: Queryable,
  owner: string,
  leaseMs: number,
  types: readonly JobType[] = JOB_TYPES,
): Promise<Job | undefined> {
  const result = await db.query(
    `UPDATE backtrack.jobs j
        SET status = 'running', attempts = j.attempts + 1, lease_owner = $1,
            lease_expires_at = now() + $2::integer * interval '1 millisecond',
            started_at = coalesce(j.started_at, now()), updated_at = now()
      WHERE j.id = (
        SELECT id FROM backtrack.jobs
         WHERE type = ANY ($3::text[])
           AND ((status = 'queued' AND run_after <= now())
             OR (status = 'running' AND lease_expires_at < now() AND attempts < max_attempts))
         ORDER BY run_after, created_at
         LIMIT 1
         FOR UPDATE SKIP LOCKED)
      RETURNING ${COLUMNS}`,
    [owner, leaseMs, [...types]],
  );
  return parseRows('claimJob', jobRow, result.rows)[0];
}

/**
 * Fails running jobs whose lease expired after their last allowed attempt: their workers
 * died every time. Returns how many.
 */
export async function failExhaustedJobs(db: Queryable): Promise<number> {
  const result = await db.query(
    `UPDATE backtrack.jobs
        SET status = 'failed', finished_at = now(), updated_at = now(), lease_owner = NULL,
            lease_expires_at = NULL, error_code = 'INTERNAL',
            error = 'the worker running it stopped before it finished, ' || attempts || ' time(s); run it again'
      WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts`,
  );
  return result.rowCount;
}

/** Renews the lease of a job `owner` still holds; false when it lost it. */
export async function renewLease(
  db: Queryable,
  id: string,
  owner: string,
  leaseMs: number,
): Promise<boolean> {
  const result = await db.query(
    `UPDATE backtrack.jobs SET lease_expires_at = now() + $3::integer * interval '1 millisecond', updated_at = now()
      WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
    [id, owner, leaseMs],
  );
  return result.rowCount > 0;
}

/** Records how far a job got (a JSON value). */
export async function reportProgress(
  db: Queryable,
  id: string,
  owner: string,
  progress: unknown,
): Promise<void> {
  await db.query(
    `UPDATE backtrack.jobs SET progress = $3, updated_at = now()
      WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
    [id, owner, json(progress)],
  );
}

/** How a job ended. */
export type JobOutcome =
  | { readonly status: 'completed'; readonly result: unknown }
  | { readonly status: 'failed'; readonly errorCode: string; readonly error: string }
  | {
      readonly status: 'retry';
      readonly errorCode: string;
      readonly error: string;
      readonly delayMs: number;
    };

/** Finishes (or re-queues) a job `owner` holds; false when it had lost the lease. */
export async function finishJob(
  db: Queryable,
  id: string,
  owner: string,
  outcome: JobOutcome,
): Promise<boolean> {
  const result =
    outcome.status === 'completed'
      ? await db.query(
          `UPDATE backtrack.jobs SET status = 'completed', result = $3, finished_at = now(), updated_at = now(),
                  lease_owner = NULL, lease_expires_at = NULL, error_code = NULL, error = NULL
            WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
          [id, owner, json(outcome.result)],
        )
      : outcome.status === 'failed'
        ? await db.query(
            `UPDATE backtrack.jobs SET status = 'failed', error_code = $3, error = $4, finished_at = now(),
                    updated_at = now(), lease_owner = NULL, lease_expires_at = NULL
              WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
            [id, owner, outcome.errorCode, outcome.error],
          )
        : await db.query(
            `UPDATE backtrack.jobs SET status = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END,
                    finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() END,
                    run_after = now() + $5::integer * interval '1 millisecond',
                    error_code = $3, error = $4, updated_at = now(), lease_owner = NULL, lease_expires_at = NULL
              WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
            [id, owner, outcome.errorCode, outcome.error, outcome.delayMs],
          );
  return result.rowCount > 0;
}

/** One job, or undefined. Ids that are not UUIDs find nothing. */
export async function findJob(db: Queryable, id: string): Promise<Job | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return undefined;
  const result = await db.query(`SELECT ${COLUMNS} FROM backtrack.jobs WHERE id = $1::uuid`, [id]);
  return parseRows('findJob', jobRow, result.rows)[0];
}

/** Which jobs to list. */
export interface JobFilter {
  readonly tenant?: string;
  readonly types?: readonly JobType[];
  readonly status?: JobStatus;
  readonly scheduleId?: string;
  readonly since?: Date;
  readonly limit: number;
  readonly offset: number;
}

/** Jobs, newest first. */
export async function listJobs(db: Queryable, filter: JobFilter): Promise<Job[]> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.jobs
      WHERE ($1::text IS NULL OR tenant_id = $1)
        AND ($2::text[] IS NULL OR type = ANY ($2::text[]))
        AND ($3::text IS NULL OR status = $3)
        AND ($4::uuid IS NULL OR schedule_id = $4::uuid)
        AND ($5::timestamptz IS NULL OR created_at >= $5)
      ORDER BY created_at DESC, id LIMIT $6 OFFSET $7`,
    [
      filter.tenant ?? null,
      filter.types ? [...filter.types] : null,
      filter.status ?? null,
      filter.scheduleId ?? null,
      filter.since ?? null,
      filter.limit,
      filter.offset,
    ],
  );
  return parseRows('listJobs', jobRow, result.rows);
}

/**
 * Resolves when the catalog has the control API's tables (migration 0004); otherwise
 * CONFIG_INVALID saying to run `backtrack migrate`.
 */
export async function requireJobsCatalog(db: Queryable, url: string): Promise<void> {
  try {
    await db.query(
      'SELECT 1 FROM backtrack.jobs, backtrack.schedules, backtrack.audit_log, backtrack.rate_limit_counters LIMIT 0',
    );
  } catch (e) {
    if (sqlState(e) === '42P01')
      throw new BacktrackError(
        'CONFIG_INVALID',
        `the catalog at ${catalogLocation(url)} has no control API tables: run \`backtrack migrate\` first`,
        { cause: e },
      );
    throw e;
  }
}
