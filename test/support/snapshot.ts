/**
 * Helpers for snapshot tests: a snapshotter for this test's schema, topics, bucket prefix
 * and catalog; COPY text decoding; and a minimal replay of change events on top of a
 * snapshot's rows, to compare with the source's true state.
 */
import { createSnapshotter, type Snapshotter } from '../../services/snapshotter/index.js';
import { keyringFrom, type Keyring } from '../../shared/archive/encryption.js';
import { readTableData } from '../../shared/archive/snapshot-file.js';
import type { Config, EncryptionConfig, SnapshotConfig } from '../../shared/config/index.js';
import type { ChangeEvent } from '../../shared/events/index.js';
import type { Logger } from '../../shared/logging.js';
import type { ObjectStore } from '../../shared/s3/index.js';

import { catalogConfigFor, s3ConfigFor } from './archive.js';
import { kafkaConfigFor, sourceConfigFor } from './capture.js';
import type { CatalogFixture, KafkaFixture, S3Fixture, SourceFixture } from './fixtures.js';

/** Snapshot settings for tests. */
export const TEST_SNAPSHOT: SnapshotConfig = {
  compressionLevel: 1,
  partBytes: 5 * 1024 * 1024,
  concurrency: 2,
  preRestoreRetentionDays: 7,
};

/** A snapshotter for this test. */
export function snapshotterFor(setup: {
  config: Config;
  source: SourceFixture;
  kafka: KafkaFixture;
  s3: S3Fixture;
  catalog: CatalogFixture;
  log: Logger;
  encryption?: EncryptionConfig;
}): Promise<Snapshotter> {
  return createSnapshotter({
    source: sourceConfigFor(setup.source),
    kafka: kafkaConfigFor(setup.kafka),
    s3: s3ConfigFor(setup.config, setup.s3),
    catalog: catalogConfigFor(setup.catalog),
    snapshot: TEST_SNAPSHOT,
    encryption: setup.encryption,
    log: setup.log,
  });
}

/** One field of COPY text: NULL, or the value with its escapes undone. */
export function decodeCopyField(field: string): string | null {
  if (field === '\\N') return null;
  return field.replace(/\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)/g, (_match, code: string) => {
    switch (code) {
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'v':
        return '\v';
      default:
        if (code.startsWith('x')) return String.fromCharCode(parseInt(code.slice(1), 16));
        if (/^[0-7]+$/.test(code)) return String.fromCharCode(parseInt(code, 8));
        return code;
    }
  });
}

/** Rows of COPY text, each an array of values (null for NULL). */
export function decodeCopyText(text: string): (string | null)[][] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.split('\t').map(decodeCopyField));
}

/** The decoded rows of a stored snapshot table. */
export async function readSnapshotRows(
  store: ObjectStore,
  key: string,
  keyring: Keyring = keyringFrom(undefined),
): Promise<(string | null)[][]> {
  const parts: Buffer[] = [];
  for await (const chunk of readTableData(await store.getStream(key), keyring, key)) {
    parts.push(chunk as Buffer);
  }
  return decodeCopyText(Buffer.concat(parts).toString('utf8'));
}

/** A table's rows by primary key (text of the key columns), values by column name. */
export type RowsByKey = Map<string, Record<string, string | null>>;

/** Rows (arrays in `columns` order) keyed by `keyColumns`. */
export function keyed(
  rows: readonly (string | null)[][],
  columns: readonly string[],
  keyColumns: readonly string[],
): RowsByKey {
  const result: RowsByKey = new Map();
  for (const values of rows) {
    const row = Object.fromEntries(columns.map((c, i) => [c, values[i] ?? null]));
    result.set(keyColumns.map((k) => row[k]).join('\u0000'), row);
  }
  return result;
}

function image(event: ChangeEvent, which: 'before' | 'after'): Record<string, string | null> {
  const values = event[which] ?? [];
  return Object.fromEntries(
    event.relation.columns.map((c, i) => {
      const value = values[i];
      return [c.name, value?.kind === 'text' ? value.text : null];
    }),
  );
}

/**
 * Applies events (already filtered and in commit order) to `rows` of one table: insert
 * puts the new row, update replaces (moving it when its key changed), delete removes,
 * truncate clears. Plain enough for tables without TOAST-sized values.
 */
export function replay(
  rows: RowsByKey,
  events: readonly ChangeEvent[],
  keyColumns: readonly string[],
): void {
  const keyOf = (row: Record<string, string | null>) =>
    keyColumns.map((k) => row[k]).join('\u0000');
  for (const event of events) {
    switch (event.op) {
      case 'insert':
        rows.set(keyOf(image(event, 'after')), image(event, 'after'));
        break;
      case 'update':
        rows.delete(keyOf(image(event, 'before')));
        rows.set(keyOf(image(event, 'after')), image(event, 'after'));
        break;
      case 'delete':
        rows.delete(keyOf(image(event, 'before')));
        break;
      case 'truncate':
        rows.clear();
        break;
      case 'schema':
        // A column set, no row.
        break;
    }
  }
}
