/**
 * Loading rows with COPY FROM STDIN (text format, written in chunks of about 64 KB rather
 * than a write per row) and reading them back for verification, both digesting the rows
 * the same way (row-digest.ts).
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';

import { copyLines, type CopyRow, formatCopyRow, parseCopyRow } from '../../shared/pg/copy-text.js';
import { type PgSession, quoteIdent } from '../../shared/pg/index.js';

import { RowDigest } from './row-digest.js';

const CHUNK_BYTES = 64 * 1024;

async function write(stream: Writable, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

/** What a load or a read-back saw: row count and order-independent digest. */
export interface Digest {
  readonly rows: number;
  readonly digest: string;
}

/**
 * COPY `rows` into `table` (`columns`, already quoted qualified name). Returns their digest.
 * `onRows` is told every chunk's row count, for progress.
 */
export async function copyRowsIn(
  session: PgSession,
  table: string,
  columns: readonly string[],
  rows: Iterable<CopyRow>,
  onRows?: (rows: number) => void,
): Promise<Digest> {
  const stream = session.copyFrom(
    `COPY ${table} (${columns.map(quoteIdent).join(', ')}) FROM STDIN`,
  );
  const finished = once(stream, 'finish');
  const digest = new RowDigest();
  let chunk = '';
  let inChunk = 0;
  for (const row of rows) {
    digest.add(row);
    chunk += `${formatCopyRow(row)}\n`;
    inChunk += 1;
    if (chunk.length >= CHUNK_BYTES) {
      await write(stream, chunk);
      onRows?.(inChunk);
      chunk = '';
      inChunk = 0;
    }
  }
  if (chunk.length > 0) await write(stream, chunk);
  onRows?.(inChunk);
  stream.end();
  await finished;
  return digest.value();
}

/** Digest of the rows `SELECT columns FROM table WHERE whereSql` returns, read through COPY. */
export async function digestTable(
  session: PgSession,
  table: string,
  columns: readonly string[],
  whereSql: string,
): Promise<Digest> {
  const stream = session.copyTo(
    `COPY (SELECT ${columns.map(quoteIdent).join(', ')} FROM ${table} WHERE ${whereSql}) TO STDOUT`,
  );
  const digest = new RowDigest();
  for await (const line of copyLines(stream)) digest.add(parseCopyRow(line));
  return digest.value();
}

/** Rows `SELECT columns FROM table WHERE whereSql` returns, through COPY. */
export async function* readRows(
  session: PgSession,
  table: string,
  columns: readonly string[],
  whereSql: string,
): AsyncGenerator<CopyRow> {
  const stream = session.copyTo(
    `COPY (SELECT ${columns.map(quoteIdent).join(', ')} FROM ${table} WHERE ${whereSql}) TO STDOUT`,
  );
  for await (const line of copyLines(stream)) yield parseCopyRow(line);
}
