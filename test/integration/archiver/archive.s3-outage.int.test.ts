/**
 * Object storage stopped for a minute under load: the archiver retries, records and
 * commits nothing for data it could not write, and catches up when storage returns —
 * with the exact event set and contiguous coverage.
 */
import { archivedPartitions } from '../../../shared/catalog/archive-ranges.js';
import { listSegments } from '../../../shared/catalog/segments.js';
import { txlogTopic } from '../../../shared/events/index.js';
import { createObjectStore } from '../../../shared/s3/index.js';
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
import { startDedicatedS3 } from '../../support/dedicated-servers.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait-for.js';

const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
const OUTAGE_MS = 60_000;

describe('archiver: object storage outage', () => {
  test(
    'retries, commits nothing unwritten, and catches up',
    { timeout: 300_000 },
    async ({ source, kafka, catalog, s3, log, config, testId }) => {
      const storage = await startDedicatedS3();
      const s3Config = {
        bucket: storage.bucket,
        endpoint: storage.endpoint,
        region: 'us-east-1',
        credentials: storage.credentials,
        forcePathStyle: true,
        prefix: `tests/${testId}/`,
      };
      const store = createObjectStore(s3Config);
      await source.exec(DOCS_TABLE);
      await setupSource(source);
      const capture = await captureInProcess(source, kafka, log);
      const archiver = await archiveInProcess({ config, kafka, s3, catalog, log, s3Config });
      const topic = txlogTopic(kafka.topicPrefix);
      const groupId = archiver.groupId;
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
      try {
        let nextId = await runDocsWorkload(source, { tenants: TENANTS, transactions: 40 });
        const first = await logThroughMarker(source, kafka, nextId++);
        await waitForArchive(catalog.pool, kafka.topicPrefix, first);
        const archivedBefore = await archivedPartitions(catalog.pool, topic);

        await storage.stop();
        const outageStarted = Date.now();
        let outageOver = false;
        // Load throughout the outage.
        const load = (async () => {
          let seed = 100;
          while (!outageOver) {
            nextId = await runDocsWorkload(source, {
              tenants: TENANTS,
              transactions: 5,
              firstId: nextId,
              seed: seed++,
            });
          }
        })();
        await waitFor(
          async () =>
            (await archiver.metrics.retries.get()).values.some((v) => v.value > 0) ? true : false,
          {
            timeoutMs: 30_000,
            what: 'the archiver to retry an upload',
          },
        );
        while (Date.now() - outageStarted < OUTAGE_MS) {
          // Nothing new is recorded, and no committed offset passes what the catalog holds.
          expect(await archivedPartitions(catalog.pool, topic)).toEqual(archivedBefore);
          const offsets = await committed();
          for (const { partition, archivedTo } of archivedBefore) {
            expect(offsets.get(partition) ?? -1n).toBeLessThanOrEqual(archivedTo);
          }
          expect(archiver.phase()).toBe('running');
          await new Promise((resolve) => setTimeout(resolve, 2_000));
        }
        outageOver = true;
        await load;
        const duringOutage = await logThroughMarker(source, kafka, nextId++);
        expect(duringOutage.length).toBeGreaterThan(first.length + 50);

        await storage.start();
        await waitForArchive(catalog.pool, kafka.topicPrefix, duringOutage, 120_000);

        const archived = await readArchive(catalog.pool, store);
        const inKafka = await readTxlog(kafka.port, kafka.topicPrefix, { schemaEvents: true });
        const ids = archived.map((e) => `${e.partition}@${e.offset}`);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids.sort()).toEqual(inKafka.map((e) => `${e.partition}@${e.offset}`).sort());
        for (const partition of new Set(inKafka.map((e) => e.partition))) {
          expect(await rangeShape(catalog.pool, kafka.topicPrefix, partition)).toMatchObject({
            gaps: 0,
            overlaps: 0,
          });
        }
        // Every recorded segment is really there.
        for (const segment of await listSegments(catalog.pool)) {
          expect((await store.head(segment.key))?.size).toBe(segment.sizeBytes);
        }
      } finally {
        await archiver.stop().catch(() => undefined);
        await capture.stop();
        store.destroy();
        await storage.dispose();
      }
    },
  );
});
