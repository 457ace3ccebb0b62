/**
 * Deleting a base snapshot from the catalog, after its objects were deleted: the row and
 * (by cascade) its tables. Whether it may be deleted is decided before (retention).
 */
import type { Queryable } from '../pg/index.js';

/** Deletes the snapshot `id` of `tenant`; false when there was none. */
export async function deleteSnapshotRecord(
  db: Queryable,
  tenant: string,
  id: string,
): Promise<boolean> {
  const result = await db.query(
    `DELETE FROM backtrack.base_snapshots WHERE tenant_id = $1 AND id = $2::uuid AND status <> 'running'`,
    [tenant, id],
  );
  return result.rowCount > 0;
}

/** The retention a tenant's schedules and DR plans ask for (days), or undefined. */
export async function requestedRetentionDays(
  db: Queryable,
  tenant: string,
): Promise<number | undefined> {
  const result = await db.query(
    `SELECT max(days)::int AS days FROM (
       SELECT retention_days AS days FROM backtrack.schedules WHERE tenant_id = $1 AND enabled
       UNION ALL
       SELECT retention_days FROM backtrack.dr_plans WHERE tenant_id = $1 AND is_active) r`,
    [tenant],
  );
  const days = result.rows[0]?.days;
  return typeof days === 'number' ? days : undefined;
}
