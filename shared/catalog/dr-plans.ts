/**
 * `backtrack.dr_plans`: a tenant's disaster-recovery objectives (RTO ≥ RPO, enforced by the
 * table too) and how often it is backed up and tested.
 */
import { z } from 'zod';

import type { Queryable } from '../pg/index.js';

import { int4, parseRows, timestamp } from './columns.js';

/** Priorities of a plan. */
export const DR_PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;
export type DrPriority = (typeof DR_PRIORITIES)[number];

/** The fields a client sets. */
export interface DrPlanFields {
  readonly name: string;
  readonly description: string | null;
  readonly rtoMinutes: number;
  readonly rpoMinutes: number;
  /** Cron expressions, in `timezone`. */
  readonly backupFrequency: string;
  readonly testFrequency: string;
  readonly timezone: string;
  readonly retentionDays: number;
  readonly priority: DrPriority;
  readonly notificationTargets: readonly string[];
  readonly isActive: boolean;
}

/** A plan. */
export interface DrPlan extends DrPlanFields {
  readonly id: string;
  readonly tenant: string;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

const planRow = z
  .object({
    id: z.string(),
    tenant_id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    rto_minutes: int4,
    rpo_minutes: int4,
    backup_frequency: z.string(),
    test_frequency: z.string(),
    timezone: z.string(),
    retention_days: int4,
    priority: z.enum(DR_PRIORITIES),
    notification_targets: z.array(z.string()),
    is_active: z.boolean(),
    created_by: z.string(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .transform((r): DrPlan => ({
    id: r.id,
    tenant: r.tenant_id,
    name: r.name,
    description: r.description,
    rtoMinutes: r.rto_minutes,
    rpoMinutes: r.rpo_minutes,
    backupFrequency: r.backup_frequency,
    testFrequency: r.test_frequency,
    timezone: r.timezone,
    retentionDays: r.retention_days,
    priority: r.priority,
    notificationTargets: r.notification_targets,
    isActive: r.is_active,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }));

const COLUMNS = `id::text AS id, tenant_id, name, description, rto_minutes, rpo_minutes,
  backup_frequency, test_frequency, timezone, retention_days, priority, notification_targets,
  is_active, created_by, created_at, updated_at`;

function values(p: DrPlanFields): unknown[] {
  return [
    p.name,
    p.description,
    p.rtoMinutes,
    p.rpoMinutes,
    p.backupFrequency,
    p.testFrequency,
    p.timezone,
    p.retentionDays,
    p.priority,
    [...p.notificationTargets],
    p.isActive,
  ];
}

/** Creates a plan. */
export async function insertDrPlan(
  db: Queryable,
  p: DrPlanFields & { id: string; tenant: string; createdBy: string },
): Promise<DrPlan> {
  const result = await db.query(
    `INSERT INTO backtrack.dr_plans (id, tenant_id, created_by, name, description, rto_minutes,
       rpo_minutes, backup_frequency, test_frequency, timezone, retention_days, priority,
       notification_targets, is_active)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     RETURNING ${COLUMNS}`,
    [p.id, p.tenant, p.createdBy, ...values(p)],
  );
  return parseRows('insertDrPlan', planRow, result.rows)[0] as DrPlan;
}

/** Replaces the client's fields of a plan of `tenant`; undefined when there is none. */
export async function updateDrPlan(
  db: Queryable,
  tenant: string,
  id: string,
  p: DrPlanFields,
): Promise<DrPlan | undefined> {
  const result = await db.query(
    `UPDATE backtrack.dr_plans
        SET name = $3, description = $4, rto_minutes = $5, rpo_minutes = $6, backup_frequency = $7,
            test_frequency = $8, timezone = $9, retention_days = $10, priority = $11,
            notification_targets = $12, is_active = $13, updated_at = now()
      WHERE tenant_id = $1 AND id = $2::uuid
      RETURNING ${COLUMNS}`,
    [tenant, id, ...values(p)],
  );
  return parseRows('updateDrPlan', planRow, result.rows)[0];
}

/** Deletes a plan of `tenant`; false when there was none. */
export async function deleteDrPlan(db: Queryable, tenant: string, id: string): Promise<boolean> {
  const result = await db.query(
    `DELETE FROM backtrack.dr_plans WHERE tenant_id = $1 AND id = $2::uuid`,
    [tenant, id],
  );
  return result.rowCount > 0;
}

/** One plan of `tenant`, or undefined. */
export async function findDrPlan(
  db: Queryable,
  tenant: string,
  id: string,
): Promise<DrPlan | undefined> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.dr_plans WHERE tenant_id = $1 AND id = $2::uuid`,
    [tenant, id],
  );
  return parseRows('findDrPlan', planRow, result.rows)[0];
}

/** Plans of a tenant, by name. */
export async function listDrPlans(
  db: Queryable,
  tenant: string,
  page: { limit: number; offset: number } = { limit: 1000, offset: 0 },
): Promise<DrPlan[]> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.dr_plans WHERE tenant_id = $1 ORDER BY name LIMIT $2 OFFSET $3`,
    [tenant, page.limit, page.offset],
  );
  return parseRows('listDrPlans', planRow, result.rows);
}
