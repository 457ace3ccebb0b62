/**
 * `backtrack verify` re-reads every stored object: with everything intact it reports all
 * objects ok and exits 0; a flipped byte in a segment and in a snapshot table, and a deleted
 * segment, are reported as exactly those objects corrupt or missing, and it exits 1.
 */
import type { VerifyReport } from '../../../services/archiver/index.js';
import { listSegments } from '../../../shared/catalog/segments.js';
import { listSnapshotTables } from '../../../shared/catalog/snapshot-tables.js';
import {
  archiveEnvironment,
  archiveInProcess,
  DOCS_TABLE,
  runDocsWorkload,
  waitForArchive,
} from '../../support/archive.js';
import {
  captureInProcess,
  setupSource,
  spawnBacktrack,
  waitForLog,
} from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { snapshotterFor } from '../../support/snapshot.js';

describe('verify', () => {
  test(
    'reports exactly the corrupt and missing objects, and exits non-zero',
    { timeout: 180_000 },
    async ({ source, kafka, catalog, s3, log, config }) => {
      await source.exec(DOCS_TABLE);
      await setupSource(source);
      const capture = await captureInProcess(source, kafka, log);
      const archiver = await archiveInProcess({ config, kafka, s3, catalog, log });
      const snapshotter = await snapshotterFor({ config, source, kafka, s3, catalog, log });
      try {
        await runDocsWorkload(source, { tenants: ['acme', 'globex', 'initech'], transactions: 60 });
        const logged = await waitForLog(
          kafka.port,
          kafka.topicPrefix,
          (e) => e.length >= 60,
          'the workload',
        );
        await waitForArchive(catalog.pool, kafka.topicPrefix, logged);
        const snapshot = await snapshotter.take({
          tenant: 'acme',
          kind: 'full',
          createdBy: 'test',
        });
        expect(snapshot.rows).toBeGreaterThan(0n);
      } finally {
        await snapshotter.close();
        await archiver.stop();
        await capture.stop();
      }
      const env = archiveEnvironment(source, { config, kafka, s3, catalog });
      const verify = async (
        ...args: string[]
      ): Promise<{ code: number | string; report: VerifyReport; output: string }> => {
        const run = spawnBacktrack(['verify', '--json', ...args], env);
        const code = await run.exited;
        const output = run.output();
        const json = output.split('\n').find((line) => line.startsWith('{"objects"'));
        return { code, report: JSON.parse(json ?? '{}') as VerifyReport, output };
      };

      const clean = await verify();
      const segments = await listSegments(catalog.pool);
      const tables = (await catalog.pool.query('SELECT id::text FROM backtrack.base_snapshots'))
        .rows;
      const snapshotTables = await listSnapshotTables(catalog.pool, String(tables[0]?.id));
      expect(clean.code, clean.output).toBe(0);
      expect(clean.report.ok).toBe(true);
      expect(clean.report.counts.ok).toBe(segments.length + snapshotTables.length + 1);
      expect(clean.report.orphans).toEqual([]);

      const flip = async (key: string): Promise<void> => {
        const bytes = await s3.store.get(key);
        const at = Math.floor(bytes.length / 2);
        bytes[at] = (bytes[at] ?? 0) ^ 0xff;
        await s3.store.put(key, bytes);
      };
      const [badSegment, goneSegment] = segments;
      const badTable = snapshotTables.find((t) => t.objectKey !== null)?.objectKey;
      if (!badSegment || !goneSegment || !badTable)
        throw new Error('not enough objects to corrupt');
      await flip(badSegment.key);
      await flip(badTable);
      await s3.store.deleteMany([goneSegment.key]);

      const broken = await verify();
      expect(broken.code, broken.output).toBe(1);
      expect(broken.report.ok).toBe(false);
      const notOk = broken.report.objects.filter((o) => o.status !== 'ok');
      expect(notOk.map((o) => [o.key, o.status]).sort()).toEqual(
        [
          [badSegment.key, 'corrupt'],
          [badTable, 'corrupt'],
          [goneSegment.key, 'missing'],
        ].sort(),
      );
      expect(broken.report.counts.ok).toBe(clean.report.counts.ok - 3);

      // The text report names the object and why.
      const text = spawnBacktrack(['verify', '--tenant', badSegment.tenant], env);
      expect(await text.exited).toBe(1);
      expect(text.output()).toContain(
        `CORRUPT segment ${badSegment.key}: SHA-256 differs from the catalog`,
      );
    },
  );
});
