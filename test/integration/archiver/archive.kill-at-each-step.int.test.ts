/**
 * `kill -9` of a real `backtrack archive` process at each step of a flush — after the first
 * upload, after every upload, after the catalog insert (before the offset commit), after
 * the offset commit — then a restart: coverage stays contiguous (no gap, no overlap) and
 * the archived event set is exactly the log's, each event once.
 */
import { FLUSH_FAILPOINTS } from '../../../services/archiver/index.js';
import { listRanges } from '../../../shared/catalog/archive-ranges.js';
import { listSegments } from '../../../shared/catalog/segments.js';
import { txlogTopic } from '../../../shared/events/index.js';
import {
  archiveEnvironment,
  DOCS_TABLE,
  logThroughMarker,
  rangeShape,
  readArchive,
  runDocsWorkload,
  waitForArchive,
} from '../../support/archive.js';
import { captureInProcess, readTxlog, setupSource, spawnBacktrack } from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';

const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark'];

describe('archiver: kill -9 at each step of a flush', () => {
  test(
    'a restart repeats work and never loses or double-counts an event',
    { timeout: 300_000 },
    async ({ source, kafka, catalog, s3, log, config }) => {
      await source.exec(DOCS_TABLE);
      await setupSource(source);
      const capture = await captureInProcess(source, kafka, log);
      const topic = txlogTopic(kafka.topicPrefix);
      const groupId = `${kafka.topicPrefix}.archiver`;
      const env = archiveEnvironment(source, { config, kafka, s3, catalog });
      const committed = async (): Promise<Map<number, bigint>> => {
        const admin = await kafka.port.admin();
        try {
          return new Map(
            (await admin.groupOffsets(groupId, topic)).map((p) => [p.partition, p.offset]),
          );
        } finally {
          await admin.disconnect();
        }
      };
      const storedKeys = async (): Promise<Set<string>> => {
        const keys = new Set<string>();
        for await (const object of s3.store.list('tenants/')) keys.add(object.key);
        return keys;
      };

      try {
        let nextId = 1;
        let expected = 0;
        for (const [step, failpoint] of Object.values(FLUSH_FAILPOINTS).entries()) {
          nextId = await runDocsWorkload(source, {
            tenants: TENANTS,
            transactions: 40,
            firstId: nextId,
            seed: 11 + step,
          });
          const before = await logThroughMarker(source, kafka, nextId++);
          expect(before.length).toBeGreaterThan(expected);
          expected = before.length;
          const rangesBefore = (
            await Promise.all([0, 1, 2].map((p) => listRanges(catalog.pool, topic, p)))
          ).flat().length;
          const segmentsBefore = new Set((await listSegments(catalog.pool)).map((s) => s.key));

          const archiver = spawnBacktrack(['archive'], { ...env, BACKTRACK_FAILPOINTS: failpoint });
          const exit = await archiver.exited;
          expect(exit, archiver.output()).toBe('SIGKILL');
          expect(archiver.output()).toContain(failpoint);

          const rangesAfter = (
            await Promise.all([0, 1, 2].map((p) => listRanges(catalog.pool, topic, p)))
          ).flat();
          const stored = await storedKeys();
          const recorded = new Set((await listSegments(catalog.pool)).map((s) => s.key));
          switch (failpoint) {
            case FLUSH_FAILPOINTS.afterFirstUpload:
            case FLUSH_FAILPOINTS.afterUpload:
              // Uploaded, never recorded: the catalog did not move; the objects are orphans.
              expect(rangesAfter.length).toBe(rangesBefore);
              expect(
                [...stored].some((key) => !recorded.has(key) && !segmentsBefore.has(key)),
              ).toBe(true);
              break;
            case FLUSH_FAILPOINTS.afterCatalog: {
              // Recorded, not committed: for some partition the catalog is ahead of the
              // group's offset (partitions flush concurrently, so others may have committed).
              expect(rangesAfter.length).toBeGreaterThan(rangesBefore);
              const offsets = await committed();
              const ahead = rangesAfter.filter((r) => (offsets.get(r.partition) ?? -1n) < r.to);
              expect(ahead.length).toBeGreaterThan(0);
              break;
            }
            case FLUSH_FAILPOINTS.afterCommit: {
              expect(rangesAfter.length).toBeGreaterThan(rangesBefore);
              const offsets = await committed();
              const ends = new Map<number, bigint>();
              for (const r of rangesAfter) {
                if (r.to > (ends.get(r.partition) ?? -1n)) ends.set(r.partition, r.to);
              }
              // Some partition committed exactly its catalog end; none committed past it.
              expect([...ends].some(([p, end]) => offsets.get(p) === end)).toBe(true);
              expect([...ends].every(([p, end]) => (offsets.get(p) ?? -1n) <= end)).toBe(true);
              break;
            }
          }
        }

        // A clean run archives the rest, starting each partition at max(committed, catalog end).
        nextId = await runDocsWorkload(source, {
          tenants: TENANTS,
          transactions: 30,
          firstId: nextId,
          seed: 5,
        });
        const all = await logThroughMarker(source, kafka, nextId++);
        expect(all.length).toBeGreaterThan(expected);
        const archiver = spawnBacktrack(['archive'], env);
        try {
          await waitForArchive(catalog.pool, kafka.topicPrefix, all, 90_000);
        } finally {
          archiver.kill('SIGTERM');
          expect(await archiver.exited, archiver.output()).toBe(0);
        }

        const inKafka = await readTxlog(kafka.port, kafka.topicPrefix, { schemaEvents: true });
        const archived = await readArchive(catalog.pool, s3.store);
        const ids = archived.map((e) => `${e.partition}@${e.offset}`);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids.sort()).toEqual(inKafka.map((e) => `${e.partition}@${e.offset}`).sort());
        for (const partition of new Set(inKafka.map((e) => e.partition))) {
          expect(await rangeShape(catalog.pool, kafka.topicPrefix, partition)).toMatchObject({
            from: 0n,
            gaps: 0,
            overlaps: 0,
          });
        }
      } finally {
        await capture.stop();
      }
    },
  );
});
