/**
 * The dry run: what a restore would change, table by table, relative to the tenant's live
 * rows (compared by primary key on the columns both have): rows to insert, to update, to
 * delete, and the rows at T. Nothing is written to the database.
 */
import { hash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { type CopyRow, formatCopyRow, parseCopyRow } from '../../shared/pg/copy-text.js';
import { type PgPool, quoteIdent, quoteLiteral, quoteQualified } from '../../shared/pg/index.js';

import type { FoldedRows } from './bounded-fold.js';
import { readRows } from './copy-load.js';
import type { TableActivity } from './fold.js';
import { PartitionedLines, readLines } from './spill.js';

/** What a restore would do to one table. */
export interface TablePreview {
  readonly table: string;
  readonly rowsAtTarget: number;
  readonly rowsNow: number;
  readonly inserts: number;
  readonly updates: number;
  readonly deletes: number;
  /** What the replayed events did (relative to the snapshot). */
  readonly replayed: TableActivity;
}

function split(qualified: string): [string, string] {
  const dot = qualified.indexOf('.');
  return [qualified.slice(0, dot), qualified.slice(dot + 1)];
}

/** Counts of a comparison of rows at T with live rows, by key. */
interface Differences {
  rowsNow: number;
  inserts: number;
  updates: number;
  deletes: number;
}

/**
 * Compares rows at T with live rows (both projected on the same columns, `keyOf` giving
 * the primary key): live rows missing at T are deletes, differing ones updates, rows at T
 * not live inserts. Holds a 16-byte hash of each row at T of one partition in memory, not
 * the row (a collision could only miscount an update in a preview).
 */
class Comparison {
  private readonly atTarget = new Map<string, string>();

  constructor(
    private readonly keyOf: (row: CopyRow) => string,
    private readonly counts: Differences,
  ) {}

  target(row: CopyRow): void {
    this.atTarget.set(this.keyOf(row), fingerprint(formatCopyRow(row)));
  }

  live(row: CopyRow, text = formatCopyRow(row)): void {
    this.counts.rowsNow += 1;
    const key = this.keyOf(row);
    const then = this.atTarget.get(key);
    if (then === undefined) this.counts.deletes += 1;
    else if (then !== fingerprint(text)) this.counts.updates += 1;
    this.atTarget.set(key, SEEN);
  }

  /** Call after every live row: counts the rows at T that were not live. */
  done(): void {
    for (const value of this.atTarget.values()) if (value !== SEEN) this.counts.inserts += 1;
    this.atTarget.clear();
  }
}

const SEEN = '\u0001seen';

/** A short stand-in for a row's text (base64 of MD5: never equal to SEEN). */
function fingerprint(text: string): string {
  return hash('md5', text, 'base64');
}

/**
 * Compares the fold's rows of each table with the tenant's live rows. When the fold spilled,
 * live rows are first sorted into the fold's partitions on disk, then compared one
 * partition at a time, so memory stays within the fold's budget.
 */
export async function previewTables(
  source: PgPool,
  fold: FoldedRows,
  tables: readonly string[],
  tenant: string,
  tenantColumn: string,
): Promise<TablePreview[]> {
  const previews: TablePreview[] = [];
  for (const table of tables) {
    const [schema, name] = split(table);
    const shape = fold.shape(table);
    const live = await source.query(
      `SELECT a.attname AS name FROM pg_attribute a
        WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''`,
      [quoteQualified(schema, name)],
    );
    const liveNames = new Set(live.rows.map((r) => String(r.name)));
    const common = shape.columns.filter((c) => liveNames.has(c.name));
    const keyColumns = shape.columns.filter((c) => c.primaryKey);
    const comparable = liveNames.size > 0 && keyColumns.every((c) => liveNames.has(c.name));
    const counts: Differences = { rowsNow: 0, inserts: 0, updates: 0, deletes: 0 };
    if (!comparable) {
      counts.inserts = fold.rowCount(table);
    } else {
      const columnIndex = common.map((c) => shape.columns.indexOf(c));
      const keyIndex = keyColumns.map((c) => common.indexOf(c));
      // The key as the fold makes it (rowKey): key values in column order, NUL-separated.
      const keyOf = (row: CopyRow): string => keyIndex.map((i) => row[i]).join('\u0000');
      const project = (row: CopyRow): CopyRow => columnIndex.map((i) => row[i] ?? null);
      const session = await source.connect();
      try {
        const liveRows = readRows(
          session,
          quoteQualified(schema, name),
          common.map((c) => c.name),
          `${quoteIdent(tenantColumn)} = ${quoteLiteral(tenant)}`,
        );
        const partitions = fold.partitionCount();
        const folder = fold.spillFolder();
        if (partitions === 1 || folder === undefined) {
          const comparison = new Comparison(keyOf, counts);
          for (const row of fold.rows(table)) comparison.target(project(row));
          for await (const row of liveRows) comparison.live(row);
          comparison.done();
        } else {
          const dir = join(folder, 'preview', String(previews.length));
          mkdirSync(dir, { recursive: true });
          const pathOf = (p: number) => join(dir, `${p}.copy`);
          const sorted = new PartitionedLines(pathOf);
          for await (const row of liveRows) {
            sorted.add(fold.partitionOf(table, keyOf(row)), formatCopyRow(row));
          }
          sorted.flush();
          for (let p = 0; p < partitions; p++) {
            const comparison = new Comparison(keyOf, counts);
            for (const row of fold.partitionRows(table, p)) comparison.target(project(row));
            if (existsSync(pathOf(p))) {
              for (const line of readLines(pathOf(p))) comparison.live(parseCopyRow(line), line);
            }
            comparison.done();
          }
          rmSync(dir, { recursive: true, force: true });
        }
      } finally {
        session.release();
      }
    }
    previews.push({
      table,
      rowsAtTarget: fold.rowCount(table),
      ...counts,
      replayed: fold.activity(table),
    });
  }
  return previews;
}
