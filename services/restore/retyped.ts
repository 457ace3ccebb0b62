/**
 * Values of retyped columns, through the column's type as of T. A row written before an
 * `ALTER … TYPE` (which rewrites the table without logical WAL) carries its value in the old
 * type's text form; Postgres holds it converted. Each distinct value of such a column goes
 * through `CAST(value AS type)` in the source database once, so the restored rows, their
 * verification digests and the dry run's comparison see what a SELECT at T returned
 * ('5' of an integer reads '5.00' as numeric(10,2)).
 */
import { BacktrackError } from '../../shared/errors.js';
import type { CopyRow } from '../../shared/pg/copy-text.js';
import type { Queryable } from '../../shared/pg/index.js';

import type { FoldedRows } from './bounded-fold.js';

/** Distinct values cast in one round trip. */
const BATCH = 10_000;

/** What `format_type` prints: names, schema dots, quotes, typmods and array brackets. */
const TYPE_NAME = /^[\p{L}\p{N}_ ."(),[\]-]+$/u;

async function castAll(
  db: Queryable,
  table: string,
  column: string,
  type: string,
  values: readonly string[],
): Promise<Map<string, string | null>> {
  const known = await db.query(`SELECT to_regtype($1) IS NOT NULL AS ok`, [type]);
  if (!TYPE_NAME.test(type) || known.rows[0]?.ok !== true) {
    throw new BacktrackError(
      'INTEGRITY_FAILED',
      `${table}.${column} has type ${type} as of the target, which the source database does not know; the type must exist to restore values written before its ALTER … TYPE`,
    );
  }
  const cast = new Map<string, string | null>();
  for (let i = 0; i < values.length; i += BATCH) {
    const batch = values.slice(i, i + BATCH);
    let result;
    try {
      result = await db.query(
        `SELECT v, CAST(v AS ${type})::text AS c FROM unnest($1::text[]) AS v`,
        [batch],
      );
    } catch (cause) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `${table}.${column} was changed to ${type}, and a value written before that change does not read as ${type} (${cause instanceof Error ? cause.message : String(cause)}); the ALTER probably had a USING expression the restore cannot replay: restore to an instant before the ALTER, or after every row was rewritten`,
        { cause },
      );
    }
    for (const row of result.rows) {
      const r = row as { v: string; c: string | null };
      cast.set(r.v, r.c);
    }
  }
  return cast;
}

/** `rows` with the values of retyped columns of `tables` cast to their type as of T. */
export async function withRetypedValues(
  db: Queryable,
  rows: FoldedRows,
  tables: readonly string[],
): Promise<FoldedRows> {
  const casts = new Map<string, Map<number, Map<string, string | null>>>();
  for (const table of tables) {
    const retyped = rows.retyped(table);
    if (retyped.size === 0) continue;
    const columns = rows.shape(table).columns;
    const targets = columns
      .map((c, i) => ({ index: i, column: c }))
      .filter((c) => retyped.has(c.column.name));
    const distinct = targets.map(() => new Set<string>());
    for (const row of rows.rows(table)) {
      targets.forEach((t, j) => {
        const value = row[t.index];
        if (value !== null && value !== undefined) distinct[j]?.add(value);
      });
    }
    const byColumn = new Map<number, Map<string, string | null>>();
    for (const [j, t] of targets.entries()) {
      byColumn.set(
        t.index,
        await castAll(db, table, t.column.name, t.column.typeName, [...(distinct[j] ?? [])]),
      );
    }
    casts.set(table, byColumn);
  }
  if (casts.size === 0) return rows;
  const convert = (table: string, row: CopyRow): CopyRow => {
    const byColumn = casts.get(table);
    if (!byColumn) return row;
    const out = [...row];
    for (const [index, cast] of byColumn) {
      const value = out[index];
      if (value !== null && value !== undefined) out[index] = cast.get(value) ?? value;
    }
    return out;
  };
  return {
    tableNames: () => rows.tableNames(),
    shape: (table) => rows.shape(table),
    rows: function* (table) {
      for (const row of rows.rows(table)) yield convert(table, row);
    },
    rowCount: (table) => rows.rowCount(table),
    activity: (table) => rows.activity(table),
    replayed: () => rows.replayed(),
    partitionCount: () => rows.partitionCount(),
    partitionOf: (table, key) => rows.partitionOf(table, key),
    partitionRows: function* (table, partition) {
      for (const row of rows.partitionRows(table, partition)) yield convert(table, row);
    },
    spillFolder: () => rows.spillFolder(),
    retyped: (table) => rows.retyped(table),
  };
}
