/**
 * Which tenants exist: the ones the catalog knows (archived or snapshotted before) and the
 * ones with rows in the captured tables. A snapshot of an id that is neither is refused
 * (TENANT_NOT_FOUND): it is almost always a typo, and an empty snapshot would hide it.
 */
import { findTenant, listTenants } from '../../shared/catalog/tenants.js';
import { BacktrackError } from '../../shared/errors.js';
import { TENANT_ALL, TENANT_GLOBAL } from '../../shared/events/index.js';
import { type Queryable, quoteIdent, quoteQualified } from '../../shared/pg/index.js';
import type { CapturedTable } from '../../shared/source/captured-tables.js';

/** Ids that name streams, not tenants. */
const RESERVED = new Set([TENANT_ALL, TENANT_GLOBAL]);

/** Refuses a reserved id, or one that neither the catalog nor the source knows. */
export async function requireKnownTenant(
  catalog: Queryable,
  source: Queryable,
  tables: readonly CapturedTable[],
  tenantColumn: string,
  tenant: string,
): Promise<void> {
  if (RESERVED.has(tenant) || tenant.length === 0) {
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

/** Every tenant to snapshot with `--all`: known to the catalog or present in the source. */
export async function allTenants(
  catalog: Queryable,
  source: Queryable,
  tables: readonly CapturedTable[],
  tenantColumn: string,
): Promise<string[]> {
  const tenants = new Set((await listTenants(catalog)).map((t) => t.tenantId));
  for (const table of tables) {
    const column = quoteIdent(tenantColumn);
    const result = await source.query(
      `SELECT DISTINCT ${column}::text AS tenant FROM ${quoteQualified(table.schema, table.table)} WHERE ${column} IS NOT NULL`,
    );
    for (const row of result.rows) if (typeof row.tenant === 'string') tenants.add(row.tenant);
  }
  return [...tenants].filter((t) => !RESERVED.has(t) && t.length > 0).sort();
}
