/**
 * The definition of a captured table, read from the source catalog, so a restore can
 * create the table as it was when a snapshot was taken: columns (type as format_type,
 * not-null, default, stored generated expression, identity, collation), primary key,
 * unique, check and exclusion constraints and foreign keys (as pg_get_constraintdef),
 * other indexes (pg_get_indexdef), owned sequences with their values, and partitioning.
 * `copyColumns` names the columns of the snapshot's data file, in order (generated
 * columns are left out: COPY FROM cannot load them).
 *
 * The zod schema is the format of `snapshot_tables.definition` and of snapshot manifests;
 * readers parse with it.
 */
import { z } from 'zod';

import { BacktrackError } from '../errors.js';
import { type Queryable, quoteQualified } from '../pg/index.js';

const constraint = z.object({ name: z.string(), definition: z.string() });

/** The format of a table definition (version 1). */
export const tableDefinitionSchema = z.object({
  version: z.literal(1),
  schema: z.string(),
  table: z.string(),
  tenantColumn: z.string(),
  columns: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      typeOid: z.number().int(),
      notNull: z.boolean(),
      default: z.string().nullable(),
      generated: z.string().nullable(),
      identity: z.enum(['always', 'by default']).nullable(),
      collation: z.string().nullable(),
    }),
  ),
  copyColumns: z.array(z.string()),
  primaryKey: z.object({ name: z.string(), columns: z.array(z.string()) }).nullable(),
  uniques: z.array(constraint),
  checks: z.array(constraint),
  exclusions: z.array(constraint),
  foreignKeys: z.array(
    constraint.extend({
      columns: z.array(z.string()),
      references: z.object({ schema: z.string(), table: z.string() }),
    }),
  ),
  indexes: z.array(constraint),
  sequences: z.array(
    z.object({
      schema: z.string(),
      name: z.string(),
      column: z.string(),
      dataType: z.string(),
      start: z.string(),
      increment: z.string(),
      min: z.string(),
      max: z.string(),
      cycle: z.boolean(),
      lastValue: z.string(),
      isCalled: z.boolean(),
    }),
  ),
  partitionKey: z.string().nullable(),
  partitions: z.array(z.object({ schema: z.string(), table: z.string(), bound: z.string() })),
});

/** A table as of a snapshot. */
export type TableDefinition = z.infer<typeof tableDefinitionSchema>;

const text = z.string();
const nullableText = z.string().nullable();
const columnRow = z.object({
  name: text,
  type: text,
  type_oid: z.number().int(),
  not_null: z.boolean(),
  default: nullableText,
  generated: nullableText,
  identity: z.enum(['always', 'by default']).nullable(),
  collation: nullableText,
});
const constraintRow = z.object({
  name: text,
  type: z.enum(['p', 'u', 'c', 'f', 'x']),
  definition: text,
  columns: z.array(text).nullable(),
  ref_schema: nullableText,
  ref_table: nullableText,
});
const indexRow = z.object({ name: text, definition: text });
const sequenceRow = z.object({
  schema: text,
  name: text,
  column: text,
  data_type: text,
  start: text,
  increment: text,
  min: text,
  max: text,
  cycle: z.boolean(),
});
const sequenceValueRow = z.object({ last_value: text, is_called: z.boolean() });
const partitioningRow = z.object({ key: nullableText });
const partitionRow = z.object({ schema: text, table: text, bound: text });

function rows<S extends z.ZodType>(
  what: string,
  schema: S,
  found: readonly unknown[],
): z.output<S>[] {
  return found.map((row) => {
    const parsed = schema.safeParse(row);
    if (!parsed.success) {
      throw new BacktrackError(
        'INTERNAL',
        `reading the ${what} of a table returned an unexpected row`,
      );
    }
    return parsed.data;
  });
}

/** Reads the definition of table `oid` (`schema`.`table`) from the source catalog. */
export async function readTableDefinition(
  db: Queryable,
  table: { readonly schema: string; readonly table: string; readonly oid: number },
  tenantColumn: string,
): Promise<TableDefinition> {
  const columns = rows(
    'columns',
    columnRow,
    (
      await db.query(
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.atttypid::int AS type_oid,
                a.attnotnull AS not_null,
                CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default,
                CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated,
                CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END AS identity,
                CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                     THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation
           FROM pg_attribute a
           JOIN pg_type t ON t.oid = a.atttypid
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           LEFT JOIN pg_collation co ON co.oid = a.attcollation
           LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
          WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attnum`,
        [table.oid],
      )
    ).rows,
  );
  const constraints = rows(
    'constraints',
    constraintRow,
    (
      await db.query(
        `SELECT c.conname AS name, c.contype::text AS type, pg_get_constraintdef(c.oid) AS definition,
                (SELECT array_agg(a.attname::text ORDER BY k.n)
                   FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns,
                rn.nspname AS ref_schema, rc.relname AS ref_table
           FROM pg_constraint c
           LEFT JOIN pg_class rc ON rc.oid = c.confrelid
           LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
          WHERE c.conrelid = $1 AND c.contype IN ('p', 'u', 'c', 'f', 'x')
          ORDER BY c.conname`,
        [table.oid],
      )
    ).rows,
  );
  const indexes = rows(
    'indexes',
    indexRow,
    (
      await db.query(
        `SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
           FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
          WHERE i.indrelid = $1
            AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
          ORDER BY ic.relname`,
        [table.oid],
      )
    ).rows,
  );
  const sequences = rows(
    'sequences',
    sequenceRow,
    (
      await db.query(
        `SELECT sn.nspname AS schema, s.relname AS name, a.attname AS column,
                format_type(sq.seqtypid, NULL) AS data_type, sq.seqstart::text AS start,
                sq.seqincrement::text AS increment, sq.seqmin::text AS min, sq.seqmax::text AS max,
                sq.seqcycle AS cycle
           FROM pg_depend d
           JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
           JOIN pg_namespace sn ON sn.oid = s.relnamespace
           JOIN pg_sequence sq ON sq.seqrelid = s.oid
           JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
          WHERE d.refobjid = $1 AND d.classid = 'pg_class'::regclass
            AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
          ORDER BY a.attnum`,
        [table.oid],
      )
    ).rows,
  );
  const withValues = [];
  for (const sequence of sequences) {
    const [value] = rows(
      'sequence values',
      sequenceValueRow,
      (
        await db.query(
          `SELECT last_value::text AS last_value, is_called FROM ${quoteQualified(sequence.schema, sequence.name)}`,
        )
      ).rows,
    );
    withValues.push({
      schema: sequence.schema,
      name: sequence.name,
      column: sequence.column,
      dataType: sequence.data_type,
      start: sequence.start,
      increment: sequence.increment,
      min: sequence.min,
      max: sequence.max,
      cycle: sequence.cycle,
      lastValue: value?.last_value ?? sequence.start,
      isCalled: value?.is_called ?? false,
    });
  }
  const [partitioning] = rows(
    'partitioning',
    partitioningRow,
    (await db.query('SELECT pg_get_partkeydef($1) AS key', [table.oid])).rows,
  );
  const partitions = rows(
    'partitions',
    partitionRow,
    (
      await db.query(
        `SELECT n.nspname AS schema, c.relname AS table, pg_get_expr(c.relpartbound, c.oid) AS bound
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE i.inhparent = $1 ORDER BY n.nspname, c.relname`,
        [table.oid],
      )
    ).rows,
  );

  const primary = constraints.find((c) => c.type === 'p');
  const of = (type: 'u' | 'c' | 'x') =>
    constraints
      .filter((c) => c.type === type)
      .map((c) => ({ name: c.name, definition: c.definition }));
  return {
    version: 1,
    schema: table.schema,
    table: table.table,
    tenantColumn,
    columns: columns.map((c) => ({
      name: c.name,
      type: c.type,
      typeOid: c.type_oid,
      notNull: c.not_null,
      default: c.default,
      generated: c.generated,
      identity: c.identity,
      collation: c.collation,
    })),
    copyColumns: columns.filter((c) => c.generated === null).map((c) => c.name),
    primaryKey: primary ? { name: primary.name, columns: primary.columns ?? [] } : null,
    uniques: of('u'),
    checks: of('c'),
    exclusions: of('x'),
    foreignKeys: constraints
      .filter((c) => c.type === 'f')
      .map((c) => ({
        name: c.name,
        definition: c.definition,
        columns: c.columns ?? [],
        references: { schema: c.ref_schema ?? '', table: c.ref_table ?? '' },
      })),
    indexes,
    sequences: withValues,
    partitionKey: partitioning?.key ?? null,
    partitions,
  };
}
