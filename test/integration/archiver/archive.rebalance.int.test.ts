/**
 * Archivers scale by partitions: two in one group share the log; when one leaves under
 * load, the other takes its partitions over from the durable positions. The archive stays
 * exact (each event once) and every partition's ranges contiguous, without overlap.
 */
import {
  archiveInProcess,
  DOCS_TABLE,
  logThroughMarker,
  rangeShape,
  readArchive,
  runDocsWorkload,
  waitForArchive,
} from '../../support/archive.js';
import { captureInProcess, readTxlog, setupSource } from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait-for.js';

const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne'];

describe('archiver: two in one group', () => {
  test(
    'share the partitions and hand them over without gap or overlap',
    { timeout: 240_000 },
    async ({ source, kafka, catalog, s3, log, config }) => {
      await source.exec(DOCS_TABLE);
      await setupSource(source);
      const capture = await captureInProcess(source, kafka, log);
      const first = await archiveInProcess({ config, kafka, s3, catalog, log });
      const second = await archiveInProcess({ config, kafka, s3, catalog, log });
      try {
        let nextId = 1;
        let seed = 1;
        const flushes = async (archiver: typeof first): Promise<number> =>
          (await archiver.metrics.flushes.get()).values.reduce((n, v) => n + v.value, 0);
        // Load until both members have flushed: the group split the partitions between them.
        await waitFor(
          async () => {
            nextId = await runDocsWorkload(source, {
              tenants: TENANTS,
              transactions: 10,
              firstId: nextId,
              seed: seed++,
            });
            return (await flushes(first)) > 0 && (await flushes(second)) > 0;
          },
          { timeoutMs: 90_000, intervalMs: 200, what: 'both archivers to flush' },
        );
        // One leaves while the load goes on; the other takes over its partitions.
        const leaving = second.stop();
        for (let i = 0; i < 10; i++) {
          nextId = await runDocsWorkload(source, {
            tenants: TENANTS,
            transactions: 10,
            firstId: nextId,
            seed: seed++,
          });
        }
        await leaving;
        const logged = await logThroughMarker(source, kafka, nextId++);
        await waitForArchive(catalog.pool, kafka.topicPrefix, logged, 120_000);
        expect(first.phase()).toBe('running');

        const archived = await readArchive(catalog.pool, s3.store);
        const inKafka = await readTxlog(kafka.port, kafka.topicPrefix, { schemaEvents: true });
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
        await second.stop().catch(() => undefined);
        await first.stop().catch(() => undefined);
        await capture.stop();
      }
    },
  );
});
