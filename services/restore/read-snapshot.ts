/**
 * Loads a plan's base snapshot into the fold: per table its shape (the columns of its data
 * file, as the snapshot had them) and its rows. Each stored object is checked against the
 * catalog's SHA-256 and row count as it streams, so a damaged snapshot stops the restore
 * before anything is written.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

import type { Keyring } from '../../shared/archive/encryption.js';
import { readTableData } from '../../shared/archive/snapshot-file.js';
import type { SnapshotTable } from '../../shared/catalog/snapshot-tables.js';
import { BacktrackError } from '../../shared/errors.js';
import { copyLines, parseCopyRow } from '../../shared/pg/copy-text.js';
import type { ObjectStore } from '../../shared/s3/index.js';

import { type Fold, tableKey, type TableShape } from './fold.js';
import type { RestorePlan } from './plan.js';

/** The shape of a snapshot table: its data file's columns, in order. */
export function snapshotShape(table: SnapshotTable): TableShape {
  const definition = table.definition;
  const key = new Set(definition.primaryKey?.columns ?? []);
  const types = new Map(definition.columns.map((c) => [c.name, c.type]));
  return {
    schema: table.schema,
    table: table.table,
    columns: definition.copyColumns.map((name) => ({
      name,
      typeName: types.get(name) ?? 'text',
      primaryKey: key.has(name),
      missing: null,
    })),
  };
}

/** Hashes what passes through. */
class Sha256 extends Transform {
  private readonly hash = createHash('sha256');

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    done(null, chunk);
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}

/** Loads every table of the plan's snapshot into `fold`; returns rows read per table. */
export async function loadSnapshot(
  plan: RestorePlan,
  archive: ObjectStore,
  keyring: Keyring,
  fold: Pick<Fold, 'addTable' | 'addSnapshotRow'>,
): Promise<Map<string, number>> {
  const rows = new Map<string, number>();
  for (const table of plan.snapshotTables) {
    const name = tableKey(table.schema, table.table);
    fold.addTable(snapshotShape(table));
    rows.set(name, 0);
    if (!table.objectKey) continue;
    const sha = new Sha256();
    const stored = (await archive.getStream(table.objectKey)).pipe(sha);
    let count = 0;
    for await (const line of copyLines(readTableData(stored, keyring, table.objectKey))) {
      fold.addSnapshotRow(table.schema, table.table, parseCopyRow(line));
      count += 1;
    }
    const digest = sha.hex();
    if (table.sha256 !== null && digest !== table.sha256) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `snapshot object ${table.objectKey} of ${name} does not match its checksum (catalog ${table.sha256}, stored ${digest}): the snapshot is damaged; run \`backtrack verify --tenant ${plan.tenant}\``,
        { details: { key: table.objectKey } },
      );
    }
    if (table.rows !== null && BigInt(count) !== table.rows) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `snapshot object ${table.objectKey} of ${name} holds ${count} rows, the catalog says ${table.rows}`,
      );
    }
    rows.set(name, count);
  }
  return rows;
}
