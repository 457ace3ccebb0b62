/**
 * An in-place restore, as one transaction on the source:
 *   1. take the tenant's restore lock (another restore of it fails: RESTORE_IN_PROGRESS);
 *   2. tag the transaction, so the capture stream marks its changes as restore-originated;
 *   3. delete the tenant's rows, children before parents;
 *   4. load the rows as of T with COPY, parents before children (cycles deferred);
 *   5. move sequences forward to the restored values (never backwards);
 *   6. lock the tables briefly, so no concurrent write of the tenant slips past step 7;
 *   7. verify each table (row count and digest) against what the fold produced;
 *   8. commit. Any failure rolls everything back: the tenant is restored or untouched.
 */
import { BacktrackError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import {
  type PgPool,
  type PgSession,
  quoteIdent,
  quoteLiteral,
  quoteQualified,
} from '../../shared/pg/index.js';

import type { FoldedRows } from './bounded-fold.js';
import { copyRowsIn, type Digest, digestTable } from './copy-load.js';
import { loadOrder } from './fk-order.js';
import { type LiveTables, reachingOutside, readLiveTables } from './live-tables.js';

/** Prefix of logical decoding messages capture reads as origin tags. */
const TAG_PREFIX = 'backtrack';

/** What an in-place restore needs. */
export interface InPlaceDeps {
  readonly source: PgPool;
  readonly tenant: string;
  readonly tenantColumn: string;
  /** Carried by the restore's changes in the capture stream (`backtrack-restore:<id>`). */
  readonly tag: string;
  readonly log: Logger;
  /** How long the final lock may wait for writers of the tables (ms). */
  readonly lockTimeoutMs?: number;
  /** Called with rows loaded so far, for progress. */
  readonly onRows?: (table: string, rows: number) => void;
  /** Seams for tests that stop the restore at a given step; none in production. */
  readonly pause?: (step: 'deleted' | 'loaded' | 'verified') => Promise<void>;
}

/** Per table: the columns loaded and the digests compared. */
export interface RestoredTable {
  readonly table: string;
  readonly columns: readonly string[];
  readonly loaded: Digest;
  readonly verified: Digest;
}

function split(qualified: string): [string, string] {
  const dot = qualified.indexOf('.');
  return [qualified.slice(0, dot), qualified.slice(dot + 1)];
}

/** The columns to load into a live table: those it has that existed at T and are not generated. */
function loadColumns(live: LiveTables, table: string, atT: readonly string[]): string[] {
  const columns = live.columns.get(table) ?? [];
  const present = new Set(atT);
  for (const column of columns) {
    if (!present.has(column.name) && column.notNull && !column.hasDefault && !column.generated) {
      throw new BacktrackError(
        'VALIDATION_FAILED',
        `column ${column.name} of ${table} is NOT NULL without a default and did not exist at the target: the rows of then cannot fill it; restore into a schema instead`,
        { details: { table, column: column.name } },
      );
    }
  }
  return columns.filter((c) => !c.generated && present.has(c.name)).map((c) => c.name);
}

/** Restores `tables` (qualified names) of the tenant in place, from `fold`. */
export async function restoreInPlace(
  deps: InPlaceDeps,
  fold: FoldedRows,
  tables: readonly string[],
): Promise<RestoredTable[]> {
  const restored = new Set(tables);
  const tenantFilter = `${quoteIdent(deps.tenantColumn)} = ${quoteLiteral(deps.tenant)}`;
  return deps.source.transaction(async (session: PgSession) => {
    const locked = await session.query(
      `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked`,
      [`backtrack:restore:${deps.tenant}`],
    );
    if (locked.rows[0]?.locked !== true) {
      throw new BacktrackError(
        'RESTORE_IN_PROGRESS',
        `tenant ${deps.tenant} is being restored or rolled back by another operation; wait for it to finish`,
        {
          details: { tenant: deps.tenant },
        },
      );
    }
    await session.query(`SELECT pg_logical_emit_message(true, $1, $2)`, [TAG_PREFIX, deps.tag]);

    const live = await readLiveTables(session, tables);
    const outside = reachingOutside(live, restored);
    if (outside.length > 0) {
      const names = outside.map((fk) => `${fk.child} (${fk.name})`).join(', ');
      throw new BacktrackError(
        'VALIDATION_FAILED',
        `deleting the tenant's rows would change tables outside this restore through ON DELETE actions: ${names}; include them in --tables, or restore into a schema`,
      );
    }
    const order = loadOrder(tables, live.foreignKeys);
    if (order.refusedCycles.length > 0) {
      throw new BacktrackError(
        'VALIDATION_FAILED',
        `foreign keys form a cycle that cannot be deferred: ${order.refusedCycles.map((c) => c.join(' → ')).join('; ')}; make one of its constraints DEFERRABLE, or restore into a schema`,
      );
    }
    if (order.deferredCycles.length > 0) await session.query('SET CONSTRAINTS ALL DEFERRED');

    for (const table of order.empty) {
      const [schema, name] = split(table);
      await session.query(`DELETE FROM ${quoteQualified(schema, name)} WHERE ${tenantFilter}`);
    }
    await deps.pause?.('deleted');

    const loads: { table: string; columns: string[]; loaded: Digest }[] = [];
    for (const table of order.load) {
      const [schema, name] = split(table);
      const shape = fold.shape(table);
      const columns = loadColumns(
        live,
        table,
        shape.columns.map((c) => c.name),
      );
      const index = columns.map((c) => shape.columns.findIndex((s) => s.name === c));
      const rows = (function* () {
        for (const row of fold.rows(table)) yield index.map((i) => row[i] ?? null);
      })();
      let loadedRows = 0;
      const loaded = await copyRowsIn(session, quoteQualified(schema, name), columns, rows, (n) => {
        loadedRows += n;
        deps.onRows?.(table, loadedRows);
      });
      loads.push({ table, columns, loaded });
    }
    await deps.pause?.('loaded');

    for (const owned of live.sequences) {
      if (!restored.has(owned.table)) continue;
      const [schema, name] = split(owned.table);
      // Forward only: a sequence never goes back, and never below a restored value.
      await session.query(
        `SELECT setval($1::regclass, m) FROM (SELECT max(${quoteIdent(owned.column)})::bigint AS m FROM ${quoteQualified(schema, name)}) t,
                 LATERAL (SELECT last_value FROM ${owned.sequence}) s
          WHERE m IS NOT NULL AND m > s.last_value`,
        [owned.sequence],
      );
    }

    // From here no other session writes these tables until commit: a write of the tenant
    // that committed meanwhile is seen by the verification and rolls the restore back.
    await session.query(`SET LOCAL lock_timeout = ${Number(deps.lockTimeoutMs ?? 10_000)}`);
    await session.query(
      `LOCK TABLE ${tables.map((t) => quoteQualified(...split(t))).join(', ')} IN SHARE ROW EXCLUSIVE MODE`,
    );
    const results: RestoredTable[] = [];
    for (const { table, columns, loaded } of loads) {
      const [schema, name] = split(table);
      const verified = await digestTable(
        session,
        quoteQualified(schema, name),
        columns,
        tenantFilter,
      );
      if (verified.rows !== loaded.rows || verified.digest !== loaded.digest) {
        throw new BacktrackError(
          'INTEGRITY_FAILED',
          `verification of ${table} failed (restored ${loaded.rows} rows, read back ${verified.rows}; digests ${loaded.digest} vs ${verified.digest}): a concurrent write to the tenant, or a value the server stores differently; the restore was rolled back, the tenant is untouched`,
          { details: { table } },
        );
      }
      results.push({ table, columns, loaded, verified });
    }
    await deps.pause?.('verified');
    deps.log.info(
      { tenant: deps.tenant, tables: results.length },
      'in-place restore verified; committing',
    );
    return results;
  });
}
