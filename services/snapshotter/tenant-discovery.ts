/**
 * Which tenants exist: the ones the catalog knows (archived or snapshotted before) and the
 * ones with rows in the captured tables. A snapshot of an id that is neither is refused
 * (TENANT_NOT_FOUND): it is almost always a typo, and an empty snapshot would hide it.
 */
import { findTenant } from '../../shared/catalog/tenants.js';
import { BacktrackError } from '../../shared/errors.js';
import { TENANT_ALL, TENANT_GLOBAL } from '../../shared/events/index.js';
import { type Queryable, quoteIdent, quoteQualified } from '../../shared/pg/index.js';
import type { CapturedTable } from '../../shared/source/captured-tables.js';

/** Ids that name streams of the log, not tenants. */
export const RESERVED_TENANTS: ReadonlySet<string> = new Set([TENANT_ALL, TENANT_GLOBAL]);

/** Refuses a reserved id, or one that neither the catalog nor the source knows. */
export async function requireKnownTenant(
  catalog: Queryable,
  source: Queryable,
  tables: readonly CapturedTable[],
  tenantColumn: string,
  tenant: string,
): Promise<void> {
  if (RESERVED_TENANTS.has(tenant) || tenant.length === 0) {
    throw new BacktrackError(
      'VALIDATION_FAILED',
      `${JSON.stringify(tenant)} names a stream of the log, not a tenant; snapshot a tenant id`,
    );
  }
  if (await findTenant(catalog, tenant)) return;
  for (const table of tables) {
    const found = await source.query(
      `SELECT 1 FROM ${quoteQualified(table.schema, table.table)} WHERE ${quoteIdent(tenantColumn)} = $1 LIMIT 1`,
      [tenant],
    );
    if (found.rowCount > 0) return;
  }
  throw new BacktrackError(
    'TENANT_NOT_FOUND',
    `tenant ${JSON.stringify(tenant)} has no rows in the ${tables.length} captured table(s) and the catalog has never seen it; check the id (ids are case-sensitive)`,
    { details: { tenant } },
  );
}
