/**
 * `backtrack restore-points` gives the recoverable window of a tenant — from its oldest data
 * snapshot to the newest commit archived contiguously after it — and lists every gap; an
 * unknown tenant is refused with TENANT_NOT_FOUND.
 */
import {
  archivedTo,
  listRanges,
  recordArchiveRange,
} from '../../../shared/catalog/archive-ranges.js';
import { txlogTopic } from '../../../shared/events/index.js';
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

interface PointsJson {
  earliest: string | null;
  latest: string | null;
  partition: number;
  windows: { from: string; to: string; snapshots: string[] }[];
  gaps: { partition: number; fromOffset: string; toOffset: string }[];
  archivedTo: string;
}

describe('restore points', () => {
  test(
    'span from the oldest snapshot to the newest archived commit, with every gap',
    { timeout: 180_000 },
    async ({ source, kafka, catalog, s3, log, config }) => {
      await source.exec(DOCS_TABLE);
      await setupSource(source);
      const capture = await captureInProcess(source, kafka, log);
      const archiver = await archiveInProcess({ config, kafka, s3, catalog, log });
      const snapshotter = await snapshotterFor({ config, source, kafka, s3, catalog, log });
      const snapshots: string[] = [];
      try {
        let nextId = 1;
        for (let round = 0; round < 2; round++) {
          nextId = await runDocsWorkload(source, {
            tenants: ['acme', 'globex'],
            transactions: 20,
            firstId: nextId,
            seed: round + 3,
          });
          snapshots.push(
            (await snapshotter.take({ tenant: 'acme', kind: 'full', createdBy: 'test' })).id,
          );
        }
        await runDocsWorkload(source, {
          tenants: ['acme', 'globex'],
          transactions: 20,
          firstId: nextId,
          seed: 9,
        });
        const logged = await waitForLog(
          kafka.port,
          kafka.topicPrefix,
          (e) => e.length >= 60,
          'the workload',
        );
        await waitForArchive(catalog.pool, kafka.topicPrefix, logged);
      } finally {
        await snapshotter.close();
        await archiver.stop();
        await capture.stop();
      }
      const env = archiveEnvironment(source, { config, kafka, s3, catalog });
      const points = async (): Promise<PointsJson> => {
        const run = spawnBacktrack(['restore-points', '--tenant', 'acme', '--json'], env);
        expect(await run.exited, run.output()).toBe(0);
        const line = run
          .output()
          .split('\n')
          .find((l) => l.startsWith('{'));
        return JSON.parse(line ?? '{}') as PointsJson;
      };
      const taken = await catalog.pool.query(
        `SELECT id::text, taken_at FROM backtrack.base_snapshots WHERE tenant_id = 'acme' ORDER BY taken_at`,
      );
      const topic = txlogTopic(kafka.topicPrefix);

      const first = await points();
      const ranges = await listRanges(catalog.pool, topic, first.partition);
      const newestCommit = ranges.reduce(
        (t, r) => (r.maxCommitTime && r.maxCommitTime > t ? r.maxCommitTime : t),
        new Date(0),
      );
      expect(first.earliest).toBe((taken.rows[0]?.taken_at as Date).toISOString());
      expect(first.latest).toBe(newestCommit.toISOString());
      expect(first.windows).toEqual([
        { from: first.earliest, to: first.latest, snapshots: snapshots },
      ]);
      expect(first.gaps).toEqual([]);
      expect(first.archivedTo).toBe(String(await archivedTo(catalog.pool, topic, first.partition)));

      // A stretch the archive never read (as after log retention overtook it): a gap.
      const end = (await archivedTo(catalog.pool, topic, first.partition)) ?? 0n;
      await recordArchiveRange(
        catalog.pool,
        {
          topic,
          partition: first.partition,
          from: end + 10n,
          to: end + 20n,
          eventCount: 0,
          minCommitLsn: undefined,
          maxCommitLsn: undefined,
          minCommitTimeUs: undefined,
          maxCommitTimeUs: undefined,
        },
        [],
      );
      const gapped = await points();
      expect(gapped.gaps).toEqual([
        expect.objectContaining({
          partition: first.partition,
          fromOffset: String(end),
          toOffset: String(end + 10n),
        }),
      ]);
      // The window still ends before the gap.
      expect(gapped.latest).toBe(first.latest);
      const text = spawnBacktrack(['restore-points', '--tenant', 'acme'], env);
      expect(await text.exited).toBe(0);
      expect(text.output()).toContain(
        `gap: partition ${first.partition} offsets [${end}, ${end + 10n}) not archived`,
      );

      const unknown = spawnBacktrack(['restore-points', '--tenant', 'nobody'], env);
      expect(await unknown.exited).toBe(2);
      expect(unknown.output()).toContain(
        'TENANT_NOT_FOUND: tenant "nobody" is unknown to the catalog',
      );
    },
  );
});
