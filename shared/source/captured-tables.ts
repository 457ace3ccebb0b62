/**
 * The captured tables of the source: the tables of the capture publication that have the
 * tenant column, the same set capture streams. Without the publication (capture never set
 * up), the tables `backtrack setup` would capture: BACKTRACK_CAPTURE_TABLES, or every table
 * of BACKTRACK_CAPTURE_SCHEMAS with the tenant column and a primary key. Partitioned
 * tables appear once, as their root (the publication publishes via the root).
 */
import { z } from 'zod';

import type { SourceConfig } from '../config/index.js';
import { BacktrackError } from '../errors.js';
import type { Queryable } from '../pg/index.js';

/** A captured table. */
export interface CapturedTable {
  readonly schema: string;
  readonly table: string;
  readonly oid: number;
}

/** Where the list came from. */
export type CapturedTablesSource = 'publication' | 'configuration';

const tableRow = z.object({ schema: z.string(), table: z.string(), oid: z.number().int() });

function parse(rows: readonly Record<string, unknown>[]): CapturedTable[] {
  return rows.map((row) => {
    const parsed = tableRow.safeParse(row);
    if (!parsed.success) {
      throw new BacktrackError('INTERNAL', 'table discovery returned an unexpected row');
    }
    return parsed.data;
  });
}

/** The captured tables in (schema, table) order, and where the list came from. */
export async function capturedTables(
  db: Queryable,
  config: SourceConfig,
): Promise<{ tables: CapturedTable[]; from: CapturedTablesSource }> {
  const published = await db.query(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS table
       FROM pg_publication_tables pt
       JOIN pg_namespace n ON n.nspname = pt.schemaname
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
      WHERE pt.pubname = $1
        AND EXISTS (SELECT 1 FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped)
      ORDER BY n.nspname, c.relname`,
    [config.publication, config.tenantColumn],
  );
  const exists = await db.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [
    config.publication,
  ]);
  if (exists.rowCount > 0) return { tables: parse(published.rows), from: 'publication' };

  const listed = config.tables.length > 0;
  const discovered = await db.query(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS table
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND (CASE WHEN $3 THEN (n.nspname || '.' || c.relname) = ANY ($1::text[])
                  ELSE n.nspname = ANY ($1::text[]) END)
        AND EXISTS (SELECT 1 FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped)
        AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
      ORDER BY n.nspname, c.relname`,
    [listed ? [...config.tables] : [...config.schemas], config.tenantColumn, listed],
  );
  return { tables: parse(discovered.rows), from: 'configuration' };
}
