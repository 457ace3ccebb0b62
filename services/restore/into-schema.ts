/**
 * A restore into a new schema, as one transaction: create the schema and the tables as of
 * T, load each with COPY, add constraints, indexes and the foreign keys between restored
 * tables (each on its own: one that no longer fits is skipped with a warning), verify,
 * commit. The live tables and every other tenant are untouched.
 */
import type { SnapshotTable } from '../../shared/catalog/snapshot-tables.js';
import { BacktrackError, describeError } from '../../shared/errors.js';
import {
  type PgPool,
  type PgSession,
  quoteIdent,
  quoteQualified,
  sqlState,
} from '../../shared/pg/index.js';
import { checkTargetSchema } from '../../shared/source/restore-schema.js';

import type { FoldedRows } from './bounded-fold.js';
import { copyRowsIn, digestTable } from './copy-load.js';
import { tableDdl } from './ddl.js';
import type { RestoredTable } from './in-place.js';

/** What a restore into a schema needs. */
export interface IntoSchemaDeps {
  readonly source: PgPool;
  readonly schema: string;
  /** Definitions of tables as of the snapshot, by qualified name. */
  readonly definitions: ReadonlyMap<string, SnapshotTable>;
  readonly onRows?: (table: string, rows: number) => void;
}

async function attempt(
  session: PgSession,
  sql: string,
  warnings: string[],
  what: string,
): Promise<void> {
  await session.query('SAVEPOINT step');
  try {
    await session.query(sql);
    await session.query('RELEASE SAVEPOINT step');
  } catch (e) {
    await session.query('ROLLBACK TO SAVEPOINT step');
    warnings.push(
      `${what} was left out: ${describeError(e)}${sqlState(e) ? ` (${sqlState(e)})` : ''}`,
    );
  }
}

/** Restores `tables` into the new schema; returns per-table results and warnings. */
export async function restoreIntoSchema(
  deps: IntoSchemaDeps,
  fold: FoldedRows,
  tables: readonly string[],
): Promise<{ tables: RestoredTable[]; warnings: string[] }> {
  await checkTargetSchema(deps.source, deps.schema);
  const restored = new Set(tables);
  return deps.source.transaction(async (session) => {
    const warnings: string[] = [];
    await session.query(`CREATE SCHEMA ${quoteIdent(deps.schema)}`);
    const ddls = tables.map((table) => ({
      table,
      ddl: tableDdl(
        fold.shape(table),
        deps.definitions.get(table)?.definition,
        deps.schema,
        restored,
      ),
    }));
    const results: RestoredTable[] = [];
    for (const { table, ddl } of ddls) {
      await session.query(ddl.create);
      const shape = fold.shape(table);
      const columns = shape.columns.map((c) => c.name);
      const target = quoteQualified(deps.schema, shape.table);
      let rows = 0;
      const loaded = await copyRowsIn(session, target, columns, fold.rows(table), (n) => {
        rows += n;
        deps.onRows?.(table, rows);
      });
      const verified = await digestTable(session, target, columns, 'true');
      if (verified.rows !== loaded.rows || verified.digest !== loaded.digest) {
        throw new BacktrackError(
          'INTEGRITY_FAILED',
          `verification of ${table} in ${deps.schema} failed (restored ${loaded.rows} rows, read back ${verified.rows}); nothing was created`,
          { details: { table } },
        );
      }
      results.push({ table, columns, loaded, verified });
    }
    for (const { table, ddl } of ddls) {
      for (const sql of ddl.extras)
        await attempt(session, sql, warnings, `a constraint or index of ${table}`);
    }
    for (const { table, ddl } of ddls) {
      for (const sql of ddl.foreignKeys)
        await attempt(session, sql, warnings, `a foreign key of ${table}`);
    }
    return { tables: results, warnings };
  });
}
