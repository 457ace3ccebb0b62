/**
 * The tables of a restore into a new schema, as of T: from the snapshot's definition of
 * each table, with the columns the table had at T (added and retyped columns typed from the
 * log, dropped ones left out). Constraints, foreign keys and indexes are separate statements so
 * that one that no longer fits (it names a dropped column, or a table left out) is skipped
 * with a warning instead of failing the restore. Defaults that draw from a sequence are
 * left out: the copy must not take values from the live tables' sequences.
 */
import { quoteIdent, quoteQualified } from '../../shared/pg/index.js';
import type { TableDefinition } from '../../shared/source/table-definition.js';

import type { TableShape } from './fold.js';

/** DDL of one table, in the order to run it. */
export interface TableDdl {
  /** CREATE TABLE with columns and primary key. */
  readonly create: string;
  /** Unique, check and exclusion constraints, and indexes: each may fail alone. */
  readonly extras: readonly string[];
  /** Foreign keys to other restored tables (run after every table exists). */
  readonly foreignKeys: readonly string[];
}

/** The part of a constraint definition after REFERENCES table, with the table re-pointed. */
function repoint(definition: string, schema: string, table: string): string | undefined {
  const match = /^(.*\bREFERENCES\s+)(?:"(?:[^"]|"")+"|[^\s(]+)(\s*\(.*)$/s.exec(definition);
  if (!match) return undefined;
  return `${match[1]}${quoteQualified(schema, table)}${match[2]}`;
}

/** Index definitions (pg_get_indexdef) moved to the target table. */
function repointIndex(definition: string, target: string): string | undefined {
  const match =
    /^(CREATE (?:UNIQUE )?INDEX \S+ ON )(?:ONLY )?(?:"(?:[^"]|"")+"|\S+)( USING .*)$/s.exec(
      definition,
    );
  return match ? `${match[1]}${target}${match[2]}` : undefined;
}

/**
 * The DDL to create `shape` (the columns as of T) in `targetSchema`. `restored` is the set
 * of qualified names restored along (foreign keys to others are left out).
 */
export function tableDdl(
  shape: TableShape,
  definition: TableDefinition | undefined,
  targetSchema: string,
  restored: ReadonlySet<string>,
): TableDdl {
  const target = quoteQualified(targetSchema, shape.table);
  const byName = new Map((definition?.columns ?? []).map((c) => [c.name, c]));
  const shapeNames = new Set(shape.columns.map((c) => c.name));
  const columns: { name: string; line: string }[] = [];
  for (const column of shape.columns) {
    // The type as of T (a later ALTER … TYPE changes the shape, not the snapshot's
    // definition); the definition's collation and default only while the type is the same.
    const named = byName.get(column.name);
    const shapeType = /^\d+$/.test(column.typeName) ? undefined : column.typeName;
    const known =
      named && (shapeType === undefined || named.type === shapeType) ? named : undefined;
    let line = `${quoteIdent(column.name)} ${known?.type ?? shapeType ?? named?.type ?? column.typeName}`;
    if (known?.collation) line += ` COLLATE ${known.collation}`;
    if (known?.default && !/\bnextval\(/i.test(known.default)) line += ` DEFAULT ${known.default}`;
    if (known?.notNull || column.primaryKey) line += ' NOT NULL';
    columns.push({ name: column.name, line });
  }
  // Generated columns are not in the data (COPY cannot load them): recreate them from the
  // definition so the server computes them, at their place among the others.
  let after = -1;
  for (const column of definition?.columns ?? []) {
    const at = columns.findIndex((c) => c.name === column.name);
    if (at >= 0) {
      after = at;
    } else if (column.generated && !shapeNames.has(column.name)) {
      after += 1;
      columns.splice(after, 0, {
        name: column.name,
        line: `${quoteIdent(column.name)} ${column.type} GENERATED ALWAYS AS (${column.generated}) STORED`,
      });
    }
  }
  const lines = columns.map((c) => c.line);
  const key = shape.columns.filter((c) => c.primaryKey).map((c) => quoteIdent(c.name));
  if (key.length > 0) lines.push(`PRIMARY KEY (${key.join(', ')})`);
  const create = `CREATE TABLE ${target} (\n  ${lines.join(',\n  ')}\n)`;

  const extras: string[] = [];
  for (const constraint of [
    ...(definition?.uniques ?? []),
    ...(definition?.checks ?? []),
    ...(definition?.exclusions ?? []),
  ]) {
    extras.push(
      `ALTER TABLE ${target} ADD CONSTRAINT ${quoteIdent(constraint.name)} ${constraint.definition}`,
    );
  }
  const constraintNames = new Set(
    [
      definition?.primaryKey?.name,
      ...(definition?.uniques ?? []).map((u) => u.name),
      ...(definition?.exclusions ?? []).map((e) => e.name),
    ].filter((n): n is string => n !== undefined),
  );
  for (const index of definition?.indexes ?? []) {
    if (constraintNames.has(index.name)) continue;
    const moved = repointIndex(index.definition, target);
    if (moved) extras.push(moved);
  }

  const foreignKeys: string[] = [];
  for (const fk of definition?.foreignKeys ?? []) {
    const parent = `${fk.references.schema}.${fk.references.table}`;
    if (!restored.has(parent)) continue;
    const moved = repoint(fk.definition, targetSchema, fk.references.table);
    if (moved)
      foreignKeys.push(`ALTER TABLE ${target} ADD CONSTRAINT ${quoteIdent(fk.name)} ${moved}`);
  }
  return { create, extras, foreignKeys };
}
