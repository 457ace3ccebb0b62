/**
 * The schema history of the source, written by the source itself: `backtrack setup`
 * installs a `ddl_command_end` and a `sql_drop` event trigger that record every DDL on a
 * published table (CREATE, ALTER, RENAME, DROP, and a table joining a publication) as a row
 * of `backtrack.source_ddl`, in the DDL's own transaction, with the table's columns after
 * it. That table is in every capture publication, so each DDL sits in the log in commit
 * order with the data, whether or not any row of the table changes afterwards. Capture
 * sends the rows of its own publication to the `_all` stream, which every restore reads.
 *
 * A row says, for one table after one DDL: its columns (attnum, name, type, primary key,
 * the missing value older rows read after `ADD COLUMN … DEFAULT`, and each column's name
 * before the DDL, so a rename keeps its values); the table's previous name after
 * `ALTER TABLE … RENAME`; or that the table was dropped.
 */
import { z } from 'zod';

import { BacktrackError } from '../errors.js';
import type { ChangeEvent } from '../events/index.js';
import { TENANT_ALL } from '../events/index.js';
import { formatLsn } from '../lsn.js';
import { quoteIdent, quoteLiteral } from '../pg/index.js';

/** Where the history lives in the source database. */
export const DDL_HISTORY_SCHEMA = 'backtrack';
export const DDL_HISTORY_TABLE = 'source_ddl';
export const DDL_HISTORY_QUALIFIED = `${DDL_HISTORY_SCHEMA}.${DDL_HISTORY_TABLE}`;
/** Names of the event triggers (database-wide objects). */
export const DDL_TRIGGER_END = 'backtrack_ddl_command_end';
export const DDL_TRIGGER_DROP = 'backtrack_sql_drop';
/** Bumped when the installed functions change, so setup replaces them. */
export const DDL_HISTORY_VERSION = 1;

const q = `${quoteIdent(DDL_HISTORY_SCHEMA)}.${quoteIdent(DDL_HISTORY_TABLE)}`;

/**
 * The columns of relation `rel` as the history records them (a SQL expression over a
 * variable `rel` of type oid). Generated columns are left out, as pgoutput leaves them
 * out of row images.
 */
const COLUMNS_OF_REL = `(
  SELECT jsonb_agg(jsonb_build_object(
           'attnum', a.attnum,
           'name', a.attname::text,
           'type', format_type(a.atttypid, a.atttypmod),
           'typeOid', a.atttypid::bigint,
           'typeMod', a.atttypmod,
           'notNull', a.attnotnull,
           'primaryKey', COALESCE(a.attnum = ANY (pk.indkey), false),
           'missing', CASE WHEN a.atthasmissing THEN (a.attmissingval::text::text[])[1] END
         ) ORDER BY a.attnum)
    FROM pg_attribute a
    LEFT JOIN pg_index pk ON pk.indrelid = a.attrelid AND pk.indisprimary
   WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
)`;

/** The publications `rel` belongs to, as a jsonb array of names. */
const PUBLICATIONS_OF_REL = `(
  SELECT COALESCE(jsonb_agg(p.pubname::text ORDER BY p.pubname), '[]'::jsonb)
    FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
   WHERE pr.prrelid = rel
)`;

/**
 * Statements that install (or bring up to date) the history table, its functions and the
 * event triggers. Idempotent; run in one transaction by a superuser (Postgres requires one
 * for event triggers).
 */
export function ddlHistoryInstallSql(): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(DDL_HISTORY_SCHEMA)}`,
    `CREATE TABLE IF NOT EXISTS ${q} (
       id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
       command text NOT NULL,
       relid oid NOT NULL,
       schema_name text NOT NULL,
       table_name text NOT NULL,
       previous_schema text,
       previous_table text,
       dropped boolean NOT NULL DEFAULT false,
       publications jsonb NOT NULL,
       columns jsonb,
       statement text
     )`,
    `CREATE INDEX IF NOT EXISTS source_ddl_relid ON ${q} (relid, id)`,
    `ALTER TABLE ${q} REPLICA IDENTITY FULL`,
    `COMMENT ON TABLE ${q} IS ${quoteLiteral(`Backtrack schema history v${DDL_HISTORY_VERSION}: one row per DDL on a published table, written by event triggers ${DDL_TRIGGER_END} and ${DDL_TRIGGER_DROP}; captured with the data so restores know each table's columns at any instant. Safe to prune rows older than every base snapshot, except the newest row per relid.`)}`,
    `CREATE OR REPLACE FUNCTION ${quoteIdent(DDL_HISTORY_SCHEMA)}.ddl_columns_core(columns jsonb) RETURNS jsonb
       LANGUAGE sql IMMUTABLE AS $body$
         SELECT jsonb_agg(e - 'previous' ORDER BY (e ->> 'attnum')::int) FROM jsonb_array_elements(columns) e
       $body$`,
    // SECURITY DEFINER: whoever runs DDL on a captured table records it, without rights of
    // their own on the history table. Fails closed: a DDL whose record cannot be written
    // does not commit, since a restore past it would otherwise build the wrong columns.
    `CREATE OR REPLACE FUNCTION ${quoteIdent(DDL_HISTORY_SCHEMA)}.record_ddl() RETURNS event_trigger
       LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
     DECLARE
       rel oid;
       pubs jsonb;
       cols jsonb;
       prev record;
       nsp text;
       name text;
       renamed jsonb;
     BEGIN
       FOR rel IN
         SELECT DISTINCT CASE
                  WHEN c.classid = 'pg_class'::regclass THEN c.objid
                  ELSE (SELECT pr.prrelid FROM pg_publication_rel pr WHERE pr.oid = c.objid)
                END
           FROM pg_event_trigger_ddl_commands() c
          WHERE c.classid IN ('pg_class'::regclass, 'pg_publication_rel'::regclass)
       LOOP
         CONTINUE WHEN rel IS NULL OR rel = ${quoteLiteral(DDL_HISTORY_QUALIFIED)}::regclass;
         SELECT n.nspname::text, c.relname::text INTO nsp, name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.oid = rel AND c.relkind IN ('r', 'p') AND NOT c.relispartition;
         CONTINUE WHEN NOT FOUND;
         pubs := ${PUBLICATIONS_OF_REL};
         SELECT * INTO prev FROM ${q} h WHERE h.relid = rel ORDER BY h.id DESC LIMIT 1;
         -- Tables no publication has held are none of capture's business.
         CONTINUE WHEN pubs = '[]'::jsonb AND (prev IS NULL OR prev.id IS NULL OR prev.dropped);
         cols := ${COLUMNS_OF_REL};
         -- Each column's name before this DDL (same attnum), so a rename keeps its values.
         IF prev.id IS NOT NULL AND NOT prev.dropped AND prev.columns IS NOT NULL THEN
           SELECT jsonb_agg(n.col || jsonb_build_object('previous', o.col ->> 'name') ORDER BY (n.col ->> 'attnum')::int)
             INTO renamed
             FROM jsonb_array_elements(cols) n(col)
             LEFT JOIN jsonb_array_elements(prev.columns) o(col) ON (o.col ->> 'attnum') = (n.col ->> 'attnum');
           cols := renamed;
         END IF;
         CONTINUE WHEN prev.id IS NOT NULL AND NOT prev.dropped
           AND prev.schema_name = nsp AND prev.table_name = name
           AND ${quoteIdent(DDL_HISTORY_SCHEMA)}.ddl_columns_core(prev.columns)
               IS NOT DISTINCT FROM ${quoteIdent(DDL_HISTORY_SCHEMA)}.ddl_columns_core(cols)
           AND prev.publications = pubs;
         INSERT INTO ${q} (command, relid, schema_name, table_name, previous_schema, previous_table, publications, columns, statement)
         VALUES (tg_tag, rel, nsp, name,
                 CASE WHEN prev.id IS NOT NULL AND NOT prev.dropped AND (prev.schema_name, prev.table_name) IS DISTINCT FROM (nsp, name) THEN prev.schema_name END,
                 CASE WHEN prev.id IS NOT NULL AND NOT prev.dropped AND (prev.schema_name, prev.table_name) IS DISTINCT FROM (nsp, name) THEN prev.table_name END,
                 pubs, cols, left(current_query(), 4000));
       END LOOP;
     END
     $body$`,
    `CREATE OR REPLACE FUNCTION ${quoteIdent(DDL_HISTORY_SCHEMA)}.record_drop() RETURNS event_trigger
       LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
     DECLARE
       obj record;
       prev record;
     BEGIN
       FOR obj IN SELECT * FROM pg_event_trigger_dropped_objects() d
                   WHERE d.object_type = 'table' AND NOT d.is_temporary
       LOOP
         SELECT * INTO prev FROM ${q} h WHERE h.relid = obj.objid ORDER BY h.id DESC LIMIT 1;
         CONTINUE WHEN prev IS NULL OR prev.id IS NULL OR prev.dropped;
         INSERT INTO ${q} (command, relid, schema_name, table_name, dropped, publications, columns, statement)
         VALUES (tg_tag, obj.objid, prev.schema_name, prev.table_name, true, prev.publications, NULL, left(current_query(), 4000));
       END LOOP;
     END
     $body$`,
    `DO $do$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = ${quoteLiteral(DDL_TRIGGER_END)}) THEN
         CREATE EVENT TRIGGER ${quoteIdent(DDL_TRIGGER_END)} ON ddl_command_end
           EXECUTE FUNCTION ${quoteIdent(DDL_HISTORY_SCHEMA)}.record_ddl();
       END IF;
       IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = ${quoteLiteral(DDL_TRIGGER_DROP)}) THEN
         CREATE EVENT TRIGGER ${quoteIdent(DDL_TRIGGER_DROP)} ON sql_drop
           EXECUTE FUNCTION ${quoteIdent(DDL_HISTORY_SCHEMA)}.record_drop();
       END IF;
     END $do$`,
  ];
}

/**
 * The statement that records the current columns of `tables` (a regclass[] expression) as a
 * baseline where the history has no row for them yet, or its newest row differs from the
 * table today (DDL made while the triggers were not installed). `what` is `INSERT`, or a
 * select list to count the rows it would insert.
 */
export function ddlBaselineSql(what: 'INSERT' | 'SELECT 1', tables: string): string {
  const select = `SELECT 'BASELINE', t.rel, n.nspname::text, c.relname::text, t.pubs, t.cols, 'backtrack setup'
      FROM (SELECT rel, ${PUBLICATIONS_OF_REL} AS pubs, ${COLUMNS_OF_REL} AS cols
              FROM unnest(${tables}::oid[]) AS u(rel)) t
      JOIN pg_class c ON c.oid = t.rel
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE NOT EXISTS (
       SELECT 1 FROM (SELECT h.* FROM ${q} h WHERE h.relid = t.rel ORDER BY h.id DESC LIMIT 1) last
        WHERE NOT last.dropped AND last.schema_name = n.nspname AND last.table_name = c.relname
          AND ${quoteIdent(DDL_HISTORY_SCHEMA)}.ddl_columns_core(last.columns) IS NOT DISTINCT FROM t.cols)`;
  return what === 'INSERT'
    ? `INSERT INTO ${q} (command, relid, schema_name, table_name, publications, columns, statement)\n    ${select}`
    : `SELECT 1 FROM (${select}) s`;
}

/** A column of a table after a DDL. */
export interface DdlColumn {
  readonly attnum: number;
  readonly name: string;
  /** `format_type(oid, typmod)`. */
  readonly type: string;
  readonly typeOid: number;
  readonly typeMod: number;
  readonly notNull: boolean;
  readonly primaryKey: boolean;
  /** What rows older than the column read (its `attmissingval`), or null. */
  readonly missing: string | null;
  /** The column's name before the DDL (differs after a rename); null when it is new. */
  readonly previous: string | null;
}

/** One DDL on one table, as the history recorded it. */
export interface DdlChange {
  readonly command: string;
  readonly relid: number;
  readonly schema: string;
  readonly table: string;
  /** The table's name before the DDL, when it renamed the table. */
  readonly previous: { readonly schema: string; readonly table: string } | null;
  readonly dropped: boolean;
  readonly publications: readonly string[];
  /** The columns after the DDL; empty for a drop. */
  readonly columns: readonly DdlColumn[];
  /** The statement (its first 4,000 characters). */
  readonly statement: string | null;
}

const columnSchema = z.object({
  attnum: z.number().int(),
  name: z.string(),
  type: z.string(),
  typeOid: z.number().int(),
  typeMod: z.number().int(),
  notNull: z.boolean(),
  primaryKey: z.boolean(),
  missing: z.string().nullable().optional(),
  previous: z.string().nullable().optional(),
});
const columnsSchema = z.array(columnSchema);
const publicationsSchema = z.array(z.string());

/** True for a row change of the history table (whatever its stream). */
export function isDdlHistoryEvent(event: Pick<ChangeEvent, 'schema' | 'table'>): boolean {
  return event.schema === DDL_HISTORY_SCHEMA && event.table === DDL_HISTORY_TABLE;
}

/** True for a history row that concerns every tenant's restore (capture put it in `_all`). */
export function isDdlEvent(event: ChangeEvent): boolean {
  return event.op === 'insert' && event.tenant === TENANT_ALL && isDdlHistoryEvent(event);
}

function field(event: ChangeEvent, name: string): string | null {
  const index = event.relation.columns.findIndex((c) => c.name === name);
  const value = index < 0 ? undefined : event.after?.[index];
  if (!value) {
    throw new BacktrackError(
      'INTEGRITY_FAILED',
      `schema history row at ${formatLsn(event.commitLsn)}:${event.sequence} has no ${name}`,
    );
  }
  return value.kind === 'text' ? value.text : null;
}

function parseJson<T>(event: ChangeEvent, name: string, schema: z.ZodType<T>): T {
  const text = field(event, name);
  let parsed: unknown;
  try {
    parsed = text === null ? null : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    throw new BacktrackError(
      'INTEGRITY_FAILED',
      `schema history row at ${formatLsn(event.commitLsn)}:${event.sequence}: ${name} is not what this version of Backtrack wrote`,
    );
  }
  return result.data;
}

/** The DDL of a history row's insert event. */
export function parseDdlEvent(event: ChangeEvent): DdlChange {
  const dropped = field(event, 'dropped') === 't';
  const previousSchema = field(event, 'previous_schema');
  const previousTable = field(event, 'previous_table');
  const columns = dropped ? [] : parseJson(event, 'columns', columnsSchema);
  return {
    command: field(event, 'command') ?? '',
    relid: Number(field(event, 'relid')),
    schema: field(event, 'schema_name') ?? '',
    table: field(event, 'table_name') ?? '',
    previous:
      previousSchema !== null && previousTable !== null
        ? { schema: previousSchema, table: previousTable }
        : null,
    dropped,
    publications: parseJson(event, 'publications', publicationsSchema),
    columns: columns.map((c) => ({
      attnum: c.attnum,
      name: c.name,
      type: c.type,
      typeOid: c.typeOid,
      typeMod: c.typeMod,
      notNull: c.notNull,
      primaryKey: c.primaryKey,
      missing: c.missing ?? null,
      previous: c.previous ?? null,
    })),
    statement: field(event, 'statement'),
  };
}

/** The publications named in a history row event (capture keeps those of its own). */
export function ddlEventPublications(event: ChangeEvent): readonly string[] {
  return parseJson(event, 'publications', publicationsSchema);
}

/** The history table's columns, in order (as capture's relation of it lists them). */
export const DDL_HISTORY_COLUMNS = [
  'id',
  'recorded_at',
  'command',
  'relid',
  'schema_name',
  'table_name',
  'previous_schema',
  'previous_table',
  'dropped',
  'publications',
  'columns',
  'statement',
] as const;

/**
 * A history row's values in Postgres text form, in {@link DDL_HISTORY_COLUMNS} order: what
 * the event triggers write for `change` (tests and tools build history events with it).
 */
export function ddlHistoryRow(
  change: DdlChange,
  id: number,
  recordedAt: string,
): (string | null)[] {
  return [
    String(id),
    recordedAt,
    change.command,
    String(change.relid),
    change.schema,
    change.table,
    change.previous?.schema ?? null,
    change.previous?.table ?? null,
    change.dropped ? 't' : 'f',
    JSON.stringify(change.publications),
    change.dropped ? null : JSON.stringify(change.columns),
    change.statement,
  ];
}
