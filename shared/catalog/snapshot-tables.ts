/**
 * `backtrack.snapshot_tables`: the tables of a base snapshot, each with its definition as
 * of the snapshot and, for data snapshots, the object holding the tenant's rows.
 */
import { z } from 'zod';

import type { Queryable } from '../pg/index.js';
import { type TableDefinition, tableDefinitionSchema } from '../source/table-definition.js';

import { int4, int8, parseRows } from './columns.js';

/** A table of a snapshot. */
export interface SnapshotTable {
  readonly snapshotId: string;
  readonly schema: string;
  readonly table: string;
  /** Order in which the snapshot copied it. */
  readonly position: number;
  /** The data object; null for a schema-only snapshot. */
  readonly objectKey: string | null;
  readonly rows: bigint | null;
  readonly sizeBytes: number | null;
  readonly sha256: string | null;
  readonly definition: TableDefinition;
}

/** A table to record (the snapshot id comes from the caller). */
export type NewSnapshotTable = Omit<SnapshotTable, 'snapshotId'>;

const tableRow = z
  .object({
    snapshot_id: z.string(),
    schema_name: z.string(),
    table_name: z.string(),
    position: int4,
    object_key: z.string().nullable(),
    row_count: int8.nullable(),
    size_bytes: int8.nullable(),
    sha256: z.string().nullable(),
    definition: tableDefinitionSchema,
  })
  .transform((r): SnapshotTable => ({
    snapshotId: r.snapshot_id,
    schema: r.schema_name,
    table: r.table_name,
    position: r.position,
    objectKey: r.object_key,
    rows: r.row_count,
    sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
    sha256: r.sha256,
    definition: r.definition,
  }));

/** Records the tables of snapshot `snapshotId` (inside the transaction that completes it). */
export async function insertSnapshotTables(
  db: Queryable,
  snapshotId: string,
  tables: readonly NewSnapshotTable[],
): Promise<void> {
  for (const t of tables) {
    await db.query(
      `INSERT INTO backtrack.snapshot_tables
         (snapshot_id, schema_name, table_name, position, object_key, row_count, size_bytes, sha256, definition)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
       ON CONFLICT (snapshot_id, schema_name, table_name) DO NOTHING`,
      [
        snapshotId,
        t.schema,
        t.table,
        t.position,
        t.objectKey,
        t.rows?.toString() ?? null,
        t.sizeBytes === null ? null : String(t.sizeBytes),
        t.sha256,
        JSON.stringify(t.definition),
      ],
    );
  }
}

/** The tables of a snapshot in the order they were copied. */
export async function listSnapshotTables(
  db: Queryable,
  snapshotId: string,
): Promise<SnapshotTable[]> {
  const result = await db.query(
    `SELECT snapshot_id::text AS snapshot_id, schema_name, table_name, position, object_key,
            row_count, size_bytes, sha256, definition
       FROM backtrack.snapshot_tables WHERE snapshot_id = $1 ORDER BY position`,
    [snapshotId],
  );
  return parseRows('listSnapshotTables', tableRow, result.rows);
}
