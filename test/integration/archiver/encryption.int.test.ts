/**
 * With BACKTRACK_ENCRYPTION_KEY set, segments and snapshots are stored encrypted: the raw
 * objects are recognisably encrypted and hold no row data in clear; they cannot be read
 * without the key, nor with another one (clear errors naming the keys); with the key they
 * read back exactly (events equal Kafka's, rows equal the source's).
 */
import { randomBytes } from 'node:crypto';

import { type Keyring, keyringFrom } from '../../../shared/archive/encryption.js';
import { decodeSegment } from '../../../shared/archive/segment-file.js';
import { listSegments } from '../../../shared/catalog/segments.js';
import { listSnapshotTables } from '../../../shared/catalog/snapshot-tables.js';
import { isBacktrackError } from '../../../shared/errors.js';
import {
  archiveEnvironment,
  archiveInProcess,
  DOCS_TABLE,
  readArchive,
  runDocsWorkload,
  waitForArchive,
} from '../../support/archive.js';
import {
  captureInProcess,
  readTxlog,
  setupSource,
  spawnBacktrack,
  waitForLog,
} from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { decodeCopyText, readSnapshotRows, snapshotterFor } from '../../support/snapshot.js';

const KEY = randomBytes(32);
const encryption = { masterKey: KEY, keyId: 'test-key-1' };
const other = { masterKey: randomBytes(32), keyId: 'test-key-2' };

async function failureOf(run: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await run();
  } catch (e) {
    return { code: isBacktrackError(e) ? e.code : 'other', message: (e as Error).message };
  }
  return { code: 'none', message: '' };
}

describe('encryption at rest', () => {
  test(
    'objects are unreadable without the key and read back exactly with it',
    { timeout: 180_000 },
    async ({ source, kafka, catalog, s3, log, config }) => {
      await source.exec(DOCS_TABLE);
      await source.exec(`INSERT INTO docs VALUES (900001, 'acme', 'SECRET-TITLE-IN-SNAPSHOT', 0)`);
      await setupSource(source);
      const capture = await captureInProcess(source, kafka, log);
      const archiver = await archiveInProcess({ config, kafka, s3, catalog, log, encryption });
      const snapshotter = await snapshotterFor({
        config,
        source,
        kafka,
        s3,
        catalog,
        log,
        encryption,
      });
      let snapshotId: string;
      try {
        await runDocsWorkload(source, { tenants: ['acme', 'globex'], transactions: 30 });
        await source.exec(`INSERT INTO docs VALUES (900002, 'acme', 'SECRET-TITLE-IN-SEGMENT', 0)`);
        const logged = await waitForLog(
          kafka.port,
          kafka.topicPrefix,
          (e) =>
            e.some(
              (x) =>
                x.event.after?.[2]?.kind === 'text' &&
                x.event.after[2].text === 'SECRET-TITLE-IN-SEGMENT',
            ),
          'the workload',
        );
        await waitForArchive(catalog.pool, kafka.topicPrefix, logged);
        snapshotId = (await snapshotter.take({ tenant: 'acme', kind: 'full', createdBy: 'test' }))
          .id;
      } finally {
        await snapshotter.close();
        await archiver.stop();
        await capture.stop();
      }

      const withKey: Keyring = keyringFrom(encryption);
      const segments = await listSegments(catalog.pool);
      const tables = await listSnapshotTables(catalog.pool, snapshotId);
      const keys = [
        ...segments.map((s) => s.key),
        ...tables.flatMap((t) => (t.objectKey ? [t.objectKey] : [])),
      ];
      expect(segments.every((s) => s.encrypted && s.keyId === 'test-key-1')).toBe(true);
      for (const key of keys) {
        const raw = await s3.store.get(key);
        expect(raw.subarray(0, 8).toString('latin1')).toBe('BTCRYPT1');
        expect(raw.includes(Buffer.from('SECRET-TITLE'))).toBe(false);
      }

      // Without the key, and with another key: clear errors.
      const segment = segments[0];
      if (!segment) throw new Error('no segment');
      const raw = await s3.store.get(segment.key);
      expect(
        await failureOf(() => decodeSegment(raw, keyringFrom(undefined), segment.key)),
      ).toEqual({
        code: 'DECRYPTION_FAILED',
        message: `${segment.key} is encrypted (key test-key-1) and no key is configured: set BACKTRACK_ENCRYPTION_KEY to the key it was written with`,
      });
      expect(
        await failureOf(() => decodeSegment(raw, keyringFrom(other), segment.key)),
      ).toMatchObject({
        code: 'DECRYPTION_FAILED',
        message: expect.stringContaining(
          'it was written with key test-key-1, and the configured key test-key-2 is another',
        ) as unknown,
      });
      const table = tables.find((t) => t.objectKey !== null);
      if (!table?.objectKey) throw new Error('no table object');
      const tableKey = table.objectKey;
      expect(
        await failureOf(() => readSnapshotRows(s3.store, tableKey, keyringFrom(undefined))),
      ).toMatchObject({
        code: 'DECRYPTION_FAILED',
      });

      // With the key: exactly what was archived and snapshotted.
      const archived = await readArchive(catalog.pool, s3.store, withKey);
      const inKafka = await readTxlog(kafka.port, kafka.topicPrefix, { schemaEvents: true });
      expect(archived.length).toBe(inKafka.length);
      const byOffset = new Map(archived.map((e) => [`${e.partition}@${e.offset}`, e.event]));
      for (const e of inKafka) expect(byOffset.get(`${e.partition}@${e.offset}`)).toEqual(e.event);
      const rows = await readSnapshotRows(s3.store, tableKey, withKey);
      const copy = await source.pool.query(
        `SELECT id::text, tenant_id, title, n::text FROM "${source.schema}".docs WHERE tenant_id = 'acme' ORDER BY docs.id`,
      );
      expect(rows.sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(
        copy.rows.map((r) => [r.id, r.tenant_id, r.title, r.n]),
      );
      expect(decodeCopyText('a\\tb\n')).toEqual([['a\tb']]);

      // verify: unreadable without the key (exit 1, message says why), ok with it.
      const env = archiveEnvironment(source, { config, kafka, s3, catalog });
      const noKey = spawnBacktrack(['verify'], env);
      expect(await noKey.exited).toBe(1);
      expect(noKey.output()).toContain('UNREADABLE segment');
      expect(noKey.output()).toContain('no key is configured: set BACKTRACK_ENCRYPTION_KEY');
      const wrongKey = spawnBacktrack(['verify'], {
        ...env,
        BACKTRACK_ENCRYPTION_KEY: other.masterKey.toString('base64'),
        BACKTRACK_ENCRYPTION_KEY_ID: other.keyId,
      });
      expect(await wrongKey.exited).toBe(1);
      expect(wrongKey.output()).toContain('configured key test-key-2 is another');
      const rightKey = spawnBacktrack(['verify'], {
        ...env,
        BACKTRACK_ENCRYPTION_KEY: KEY.toString('base64'),
        BACKTRACK_ENCRYPTION_KEY_ID: 'test-key-1',
      });
      expect(await rightKey.exited, rightKey.output()).toBe(0);
    },
  );
});
