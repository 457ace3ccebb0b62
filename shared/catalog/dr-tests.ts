/**
 * `backtrack.dr_tests`: DR test runs, from running to passed or failed, with the measured
 * RTO against the plan's and every issue found.
 */
import { z } from 'zod';

import type { Queryable } from '../pg/index.js';

import { int4, int8, parseRows, timestamp } from './columns.js';

/** How deep a DR test validates. */
export const VALIDATION_LEVELS = ['basic', 'full', 'deep'] as const;
export type ValidationLevel = (typeof VALIDATION_LEVELS)[number];

/** Why a DR test ran. */
export const DR_TEST_TYPES = ['manual', 'automated', 'scheduled'] as const;
export type DrTestType = (typeof DR_TEST_TYPES)[number];

/** A DR test run. */
export interface DrTest {
  readonly id: string;
  readonly tenant: string;
  readonly jobId: string;
  readonly drPlanId: string | null;
  readonly backupId: string | null;
  readonly testName: string;
  readonly testType: DrTestType;
  readonly validationLevel: ValidationLevel;
  readonly status: 'running' | 'passed' | 'failed';
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  readonly measuredRtoMs: number | null;
  readonly planRtoMinutes: number | null;
  readonly rtoMet: boolean | null;
  readonly validationsPassed: number;
  readonly issues: readonly string[];
  readonly report: unknown;
  readonly createdBy: string;
}

const testRow = z
  .object({
    id: z.string(),
    tenant_id: z.string(),
    job_id: z.string(),
    dr_plan_id: z.string().nullable(),
    backup_id: z.string().nullable(),
    test_name: z.string(),
    test_type: z.enum(DR_TEST_TYPES),
    validation_level: z.enum(VALIDATION_LEVELS),
    status: z.enum(['running', 'passed', 'failed']),
    started_at: timestamp,
    finished_at: timestamp.nullable(),
    measured_rto_ms: int8.nullable(),
    plan_rto_minutes: int4.nullable(),
    rto_met: z.boolean().nullable(),
    validations_passed: int4,
    issues: z.array(z.string()),
    report: z.unknown(),
    created_by: z.string(),
  })
  .transform((r): DrTest => ({
    id: r.id,
    tenant: r.tenant_id,
    jobId: r.job_id,
    drPlanId: r.dr_plan_id,
    backupId: r.backup_id,
    testName: r.test_name,
    testType: r.test_type,
    validationLevel: r.validation_level,
    status: r.status,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    measuredRtoMs: r.measured_rto_ms === null ? null : Number(r.measured_rto_ms),
    planRtoMinutes: r.plan_rto_minutes,
    rtoMet: r.rto_met,
    validationsPassed: r.validations_passed,
    issues: r.issues,
    report: r.report ?? null,
    createdBy: r.created_by,
  }));

const COLUMNS = `id::text AS id, tenant_id, job_id::text AS job_id, dr_plan_id::text AS dr_plan_id,
  backup_id::text AS backup_id, test_name, test_type, validation_level, status, started_at,
  finished_at, measured_rto_ms, plan_rto_minutes, rto_met, validations_passed, issues, report,
  created_by`;

/** A DR test as it starts. */
export interface NewDrTest {
  readonly id: string;
  readonly tenant: string;
  readonly jobId: string;
  readonly drPlanId: string | null;
  readonly backupId: string | null;
  readonly testName: string;
  readonly testType: DrTestType;
  readonly validationLevel: ValidationLevel;
  readonly planRtoMinutes: number | null;
  readonly createdBy: string;
}

/**
 * Records a DR test as running. A retried job (its worker died) starts over: the run it
 * left behind is replaced.
 */
export async function startDrTest(db: Queryable, t: NewDrTest): Promise<void> {
  await db.query(
    `INSERT INTO backtrack.dr_tests (id, tenant_id, job_id, dr_plan_id, backup_id, test_name,
       test_type, validation_level, status, plan_rto_minutes, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'running', $9, $10)
     ON CONFLICT (id) DO UPDATE SET status = 'running', started_at = now(), finished_at = NULL,
       measured_rto_ms = NULL, rto_met = NULL, validations_passed = 0, issues = '[]', report = NULL`,
    [
      t.id,
      t.tenant,
      t.jobId,
      t.drPlanId,
      t.backupId,
      t.testName,
      t.testType,
      t.validationLevel,
      t.planRtoMinutes,
      t.createdBy,
    ],
  );
}

/** How a DR test ended. */
export interface DrTestOutcome {
  readonly passed: boolean;
  readonly measuredRtoMs: number | null;
  readonly rtoMet: boolean | null;
  readonly validationsPassed: number;
  readonly issues: readonly string[];
  readonly report: unknown;
}

/** Records how a DR test ended. */
export async function finishDrTest(db: Queryable, id: string, o: DrTestOutcome): Promise<void> {
  await db.query(
    `UPDATE backtrack.dr_tests
        SET status = $2, finished_at = now(), measured_rto_ms = $3, rto_met = $4,
            validations_passed = $5, issues = $6, report = $7
      WHERE id = $1`,
    [
      id,
      o.passed ? 'passed' : 'failed',
      o.measuredRtoMs,
      o.rtoMet,
      o.validationsPassed,
      JSON.stringify(o.issues),
      JSON.stringify(o.report),
    ],
  );
}

/** One DR test of `tenant`, or undefined. */
export async function findDrTest(
  db: Queryable,
  tenant: string,
  id: string,
): Promise<DrTest | undefined> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.dr_tests WHERE tenant_id = $1 AND id = $2::uuid`,
    [tenant, id],
  );
  return parseRows('findDrTest', testRow, result.rows)[0];
}

/** DR tests of a tenant, newest first. */
export async function listDrTests(
  db: Queryable,
  filter: { tenant: string; since?: Date; drPlanId?: string; limit: number; offset: number },
): Promise<DrTest[]> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.dr_tests
      WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR started_at >= $2)
        AND ($3::uuid IS NULL OR dr_plan_id = $3::uuid)
      ORDER BY started_at DESC, id LIMIT $4 OFFSET $5`,
    [filter.tenant, filter.since ?? null, filter.drPlanId ?? null, filter.limit, filter.offset],
  );
  return parseRows('listDrTests', testRow, result.rows);
}
