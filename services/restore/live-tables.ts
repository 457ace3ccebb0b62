/**
 * What an in-place restore must know of the live tables: their columns today, the foreign
 * keys that touch them (from inside or outside the restore), and the sequences that feed
 * their columns.
 */
import { z } from 'zod';

import { BacktrackError } from '../../shared/errors.js';
import type { Queryable } from '../../shared/pg/index.js';

import type { ForeignKey } from './fk-order.js';
import { tableKey } from './fold.js';

/** A column of a live table. */
export interface LiveColumn {
  readonly name: string;
  readonly generated: boolean;
  readonly notNull: boolean;
  readonly hasDefault: boolean;
}

/** A foreign key touching the restored tables, with what a delete of a parent row does. */
export interface LiveForeignKey extends ForeignKey {
  /** a: no action, r: restrict, c: cascade, n: set null, d: set default. */
  readonly onDelete: 'a' | 'r' | 'c' | 'n' | 'd';
}

/** A sequence feeding a column (serial or identity). */
export interface OwnedSequence {
  readonly table: string;
  readonly column: string;
  /** Qualified, quoted as regclass text. */
  readonly sequence: string;
}

/** The live facts of a set of tables. */
export interface LiveTables {
  readonly columns: ReadonlyMap<string, readonly LiveColumn[]>;
  readonly foreignKeys: readonly LiveForeignKey[];
  readonly sequences: readonly OwnedSequence[];
}

const columnRow = z.object({
  qualified: z.string(),
  name: z.string(),
  generated: z.boolean(),
  not_null: z.boolean(),
  has_default: z.boolean(),
});
const fkRow = z.object({
  name: z.string(),
  child: z.string(),
  parent: z.string(),
  deferrable: z.boolean(),
  on_delete: z.enum(['a', 'r', 'c', 'n', 'd']),
});
const sequenceRow = z.object({ qualified: z.string(), column: z.string(), sequence: z.string() });

function parse<T>(schema: z.ZodType<T>, rows: readonly unknown[], what: string): T[] {
  return rows.map((row) => {
    const parsed = schema.safeParse(row);
    if (!parsed.success)
      throw new BacktrackError('INTERNAL', `unexpected ${what} row: ${parsed.error.message}`);
    return parsed.data;
  });
}

/** Reads the live facts of `tables` (qualified names). */
export async function readLiveTables(
  db: Queryable,
  tables: readonly string[],
): Promise<LiveTables> {
  const names = [...tables];
  const relations = `SELECT c.oid, n.nspname || '.' || c.relname AS qualified
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname || '.' || c.relname = ANY ($1::text[])`;
  const columns = await db.query(
    `WITH r AS (${relations})
     SELECT r.qualified, a.attname AS name, a.attgenerated <> '' AS generated,
            a.attnotnull AS not_null, a.atthasdef AS has_default
       FROM r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY r.qualified, a.attnum`,
    [names],
  );
  const foreignKeys = await db.query(
    `WITH r AS (${relations})
     SELECT con.conname AS name,
            cn.nspname || '.' || cc.relname AS child,
            pn.nspname || '.' || pc.relname AS parent,
            con.condeferrable AS deferrable,
            con.confdeltype::text AS on_delete
       FROM pg_constraint con
       JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
       JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE con.contype = 'f' AND (con.conrelid IN (SELECT oid FROM r) OR con.confrelid IN (SELECT oid FROM r))`,
    [names],
  );
  const sequences = await db.query(
    `WITH r AS (${relations})
     SELECT r.qualified, a.attname AS column, d.objid::regclass::text AS sequence
       FROM r
       JOIN pg_depend d ON d.refobjid = r.oid AND d.refclassid = 'pg_class'::regclass
                        AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
       JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
       JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = d.refobjsubid`,
    [names],
  );
  const byTable = new Map<string, LiveColumn[]>();
  for (const row of parse(columnRow, columns.rows, 'column')) {
    const list = byTable.get(row.qualified) ?? [];
    list.push({
      name: row.name,
      generated: row.generated,
      notNull: row.not_null,
      hasDefault: row.has_default,
    });
    byTable.set(row.qualified, list);
  }
  for (const table of tables) {
    if (!byTable.has(table)) {
      throw new BacktrackError(
        'VALIDATION_FAILED',
        `table ${table} no longer exists in the source: an in-place restore writes into the live tables; restore into a schema instead`,
        { details: { table } },
      );
    }
  }
  return {
    columns: byTable,
    foreignKeys: parse(fkRow, foreignKeys.rows, 'foreign key').map((fk) => ({
      name: fk.name,
      child: fk.child,
      parent: fk.parent,
      deferrable: fk.deferrable,
      onDelete: fk.on_delete,
    })),
    sequences: parse(sequenceRow, sequences.rows, 'sequence').map((s) => ({
      table: s.qualified,
      column: s.column,
      sequence: s.sequence,
    })),
  };
}

/** Keys from tables outside the restore whose delete action would change them. */
export function reachingOutside(live: LiveTables, restored: ReadonlySet<string>): LiveForeignKey[] {
  return live.foreignKeys.filter(
    (fk) =>
      restored.has(fk.parent) &&
      !restored.has(fk.child) &&
      (fk.onDelete === 'c' || fk.onDelete === 'n' || fk.onDelete === 'd'),
  );
}

export { tableKey };
