/**
 * Archiving a captured multi-tenant workload yields segments whose events, per tenant,
 * equal what is in Kafka: none missing, none twice; the ranges of every partition are
 * contiguous; each segment's object matches its catalog checksum and metadata.
 */
import { createHash } from 'node:crypto';

import { keyringFrom } from '../../../shared/archive/encryption.js';
import { decodeSegment } from '../../../shared/archive/segment-file.js';
import { listSegments } from '../../../shared/catalog/segments.js';
import { listTenants } from '../../../shared/catalog/tenants.js';
import { TENANT_ALL } from '../../../shared/events/index.js';
import {
  archiveInProcess,
  DOCS_TABLE,
  rangeShape,
  readArchive,
  runDocsWorkload,
  waitForArchive,
} from '../../support/archive.js';
import { captureInProcess, readTxlog, setupSource, waitForLog } from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';

const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'tyrell'];

describe('archiver: exact events', () => {
  test('archives every event of every tenant exactly once, in contiguous ranges', async ({
    source,
    kafka,
    catalog,
    s3,
    log,
    config,
  }) => {
    await source.exec(DOCS_TABLE);
    await setupSource(source);
    const capture = await captureInProcess(source, kafka, log);
    // Small segments: flushes by size and by age both happen.
    const archiver = await archiveInProcess({
      config,
      kafka,
      s3,
      catalog,
      log,
      archiver: { segmentMaxBytes: 8 * 1024 },
    });
    try {
      let nextId = await runDocsWorkload(source, { tenants: TENANTS, transactions: 150 });
      await source.exec('TRUNCATE docs');
      nextId = await runDocsWorkload(source, {
        tenants: TENANTS,
        transactions: 100,
        firstId: nextId,
        seed: 99,
      });
      const logged = await waitForLog(
        kafka.port,
        kafka.topicPrefix,
        (events) =>
          events.some((e) => e.event.tenant === TENANT_ALL) &&
          events.filter((e) => e.event.op !== 'truncate').length > 250,
        'the workload in the log',
      );
      await source.exec(`INSERT INTO docs VALUES (${nextId}, 'acme', 'last', 0)`);
      const all = await waitForLog(
        kafka.port,
        kafka.topicPrefix,
        (events) =>
          events.length > logged.length &&
          events.some(
            (e) => e.event.after?.[2]?.kind === 'text' && e.event.after[2].text === 'last',
          ),
        'the last insert in the log',
      );
      await waitForArchive(catalog.pool, kafka.topicPrefix, all);

      const archived = await readArchive(catalog.pool, s3.store);
      const inKafka = await readTxlog(kafka.port, kafka.topicPrefix, { schemaEvents: true });
      const id = (partition: number, offset: bigint) => `${partition}@${offset}`;
      const archivedIds = archived.map((e) => id(e.partition, e.offset));
      // None twice.
      expect(new Set(archivedIds).size).toBe(archivedIds.length);
      // None missing, none extra, each identical to the Kafka record it came from.
      const byId = new Map(archived.map((e) => [id(e.partition, e.offset), e]));
      expect(archived.length).toBe(inKafka.length);
      for (const logged of inKafka) {
        const copy = byId.get(id(logged.partition, logged.offset));
        expect(copy?.event).toEqual(logged.event);
        expect(copy?.segment.tenant).toBe(logged.event.tenant);
      }
      // Per tenant, the same positions in the same order.
      for (const tenant of [...TENANTS, TENANT_ALL]) {
        const positions = (
          events: { event: { tenant: string; commitLsn: bigint; sequence: number } }[],
        ) =>
          events
            .filter((e) => e.event.tenant === tenant)
            .map((e) => `${e.event.commitLsn}/${e.event.sequence}`);
        expect(positions(archived.sort((a, b) => (a.offset < b.offset ? -1 : 1)))).toEqual(
          positions(inKafka),
        );
      }

      // Coverage: contiguous from the start of every partition that has events.
      for (const partition of new Set(inKafka.map((e) => e.partition))) {
        const shape = await rangeShape(catalog.pool, kafka.topicPrefix, partition);
        expect(shape).toMatchObject({ from: 0n, gaps: 0, overlaps: 0 });
        expect(shape.ranges).toBeGreaterThan(1);
      }

      // Stored objects: checksum, S3 metadata and self-description agree with the catalog.
      for (const segment of await listSegments(catalog.pool)) {
        const bytes = await s3.store.get(segment.key);
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(segment.sha256);
        expect((await s3.store.head(segment.key))?.metadata?.['backtrack-sha256']).toBe(
          segment.sha256,
        );
        const decoded = await decodeSegment(bytes, keyringFrom(undefined), segment.key);
        expect(decoded.metadata).toMatchObject({
          tenant: segment.tenant,
          partition: segment.partition,
          rangeFrom: segment.rangeFrom,
          rangeTo: segment.rangeTo,
          firstOffset: segment.firstOffset,
          lastOffset: segment.lastOffset,
          eventCount: segment.eventCount,
        });
        expect(segment.key).toMatch(/^tenants\/[^/]+\/segments\/\d+\/\d{20}-\d{20}\.avro$/);
      }
      expect((await listTenants(catalog.pool)).map((t) => t.tenantId).sort()).toEqual(
        [...TENANTS, TENANT_ALL].sort(),
      );
      expect(await archiver.metrics.events.get()).toMatchObject({
        values: [{ value: inKafka.length }],
      });
    } finally {
      await archiver.stop();
      await capture.stop();
    }
  });
});
