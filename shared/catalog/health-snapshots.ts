/** `backtrack.health_snapshots`: health scores as they were computed, for trends. */
import { z } from 'zod';

import type { Queryable } from '../pg/index.js';

import { int4, parseRows, timestamp } from './columns.js';

/** A recorded score. */
export interface HealthSnapshot {
  readonly tenant: string;
  readonly at: Date;
  readonly score: number;
  readonly parts: unknown;
}

const snapshotRow = z
  .object({ tenant_id: z.string(), at: timestamp, score: int4, parts: z.unknown() })
  .transform((r): HealthSnapshot => ({
    tenant: r.tenant_id,
    at: r.at,
    score: r.score,
    parts: r.parts,
  }));

/** Records a score. */
export async function recordHealth(
  db: Queryable,
  tenant: string,
  score: number,
  parts: unknown,
): Promise<void> {
  await db.query(
    `INSERT INTO backtrack.health_snapshots (tenant_id, score, parts) VALUES ($1, $2, $3)`,
    [tenant, score, JSON.stringify(parts)],
  );
}

/** The newest recorded scores of a tenant, newest first. */
export async function listHealth(
  db: Queryable,
  tenant: string,
  limit: number,
): Promise<HealthSnapshot[]> {
  const result = await db.query(
    `SELECT tenant_id, at, score, parts FROM backtrack.health_snapshots
      WHERE tenant_id = $1 ORDER BY at DESC LIMIT $2`,
    [tenant, limit],
  );
  return parseRows('listHealth', snapshotRow, result.rows);
}
