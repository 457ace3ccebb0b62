/** `backtrack.tenants`: every tenant the archive or the snapshotter has seen. */
import { z } from 'zod';

import { BacktrackError } from '../errors.js';
import type { Queryable } from '../pg/index.js';

import { parseRows, timestamp } from './columns.js';

/** A known tenant. */
export interface Tenant {
  readonly tenantId: string;
  readonly firstSeenAt: Date;
  readonly lastArchivedAt: Date | null;
  readonly lastSnapshotAt: Date | null;
}

const tenantRow = z
  .object({
    tenant_id: z.string(),
    first_seen_at: timestamp,
    last_archived_at: timestamp.nullable(),
    last_snapshot_at: timestamp.nullable(),
  })
  .transform((r): Tenant => ({
    tenantId: r.tenant_id,
    firstSeenAt: r.first_seen_at,
    lastArchivedAt: r.last_archived_at,
    lastSnapshotAt: r.last_snapshot_at,
  }));

const COLUMNS = 'tenant_id, first_seen_at, last_archived_at, last_snapshot_at';

/**
 * Records that `tenants` were archived or snapshotted now. Rows are touched in id order,
 * so concurrent flushes of different partitions cannot deadlock on them.
 */
export async function touchTenants(
  db: Queryable,
  tenants: readonly string[],
  what: 'archived' | 'snapshot',
): Promise<void> {
  if (tenants.length === 0) return;
  const column = what === 'archived' ? 'last_archived_at' : 'last_snapshot_at';
  await db.query(
    `INSERT INTO backtrack.tenants (tenant_id, ${column})
     SELECT t, now() FROM unnest($1::text[]) AS t ORDER BY t
     ON CONFLICT (tenant_id) DO UPDATE SET ${column} = excluded.${column}`,
    [[...new Set(tenants)].sort()],
  );
}

/** The tenant, or undefined when the catalog has never seen it. */
export async function findTenant(db: Queryable, tenantId: string): Promise<Tenant | undefined> {
  const result = await db.query(`SELECT ${COLUMNS} FROM backtrack.tenants WHERE tenant_id = $1`, [
    tenantId,
  ]);
  return parseRows('findTenant', tenantRow, result.rows)[0];
}

/** The tenant, or TENANT_NOT_FOUND with a message that says how to check the id. */
export async function requireTenant(db: Queryable, tenantId: string): Promise<Tenant> {
  const tenant = await findTenant(db, tenantId);
  if (tenant) return tenant;
  throw new BacktrackError(
    'TENANT_NOT_FOUND',
    `tenant ${JSON.stringify(tenantId)} is unknown to the catalog: nothing of it was archived or snapshotted; check the id (ids are case-sensitive) and that \`backtrack archive\` runs`,
    { details: { tenant: tenantId } },
  );
}

/** Every known tenant, by id. */
export async function listTenants(db: Queryable): Promise<Tenant[]> {
  const result = await db.query(`SELECT ${COLUMNS} FROM backtrack.tenants ORDER BY tenant_id`);
  return parseRows('listTenants', tenantRow, result.rows);
}
