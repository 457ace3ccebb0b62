/**
 * Kafka through our port: an idempotent transactional producer commits one batch and
 * aborts another; a read_committed consumer sees exactly the committed records.
 */
import { type IncomingRecord, partitionForKey } from '../../../shared/kafka/index.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait-for.js';

describe('kafka smoke', () => {
  test('a read_committed consumer sees the committed batch and never the aborted one', async ({
    kafka,
  }) => {
    const topic = `${kafka.topicPrefix}.smoke`;
    const admin = await kafka.port.admin();
    try {
      expect((await admin.describeCluster()).brokers.length).toBeGreaterThan(0);
      expect(await admin.ensureTopic({ name: topic, partitions: 2 })).toBe('created');
      expect(await admin.ensureTopic({ name: topic, partitions: 2 })).toBe('exists');
    } finally {
      await admin.disconnect();
    }

    const producer = await kafka.port.transactionalProducer({
      transactionalId: `${kafka.topicPrefix}-tx`,
    });
    const record = (key: string, value: string) => ({
      topic,
      key,
      partition: partitionForKey(key, 2),
      value: Buffer.from(value),
      headers: { op: 'c' },
    });
    try {
      const committed = await producer.begin();
      await committed.send([
        record('tenant-a', 'a1'),
        record('tenant-b', 'b1'),
        record('tenant-a', 'a2'),
      ]);
      await committed.commit();

      const aborted = await producer.begin();
      await aborted.send([record('tenant-a', 'ABORTED-1'), record('tenant-b', 'ABORTED-2')]);
      await aborted.abort();

      // Committed after the aborted batch: once the consumer has read it, it has passed
      // every offset the aborted batch occupied.
      const sentinel = await producer.begin();
      await sentinel.send([record('tenant-a', 'end-a'), record('tenant-b', 'end-b')]);
      await sentinel.commit();
    } finally {
      await producer.disconnect();
    }

    const seen: IncomingRecord[] = [];
    const consumer = await kafka.port.consumer({ groupId: `${kafka.topicPrefix}-group` });
    try {
      await consumer.subscribe([topic], { fromBeginning: true });
      await consumer.run((batch) => {
        seen.push(...batch.records);
        return Promise.resolve();
      });
      await waitFor(() => seen.filter((r) => r.value?.toString().startsWith('end-')).length === 2, {
        what: 'both sentinels',
      });
    } finally {
      await consumer.disconnect();
    }

    const values = (key: string) =>
      seen.filter((r) => r.key?.toString() === key).map((r) => r.value?.toString());
    expect(values('tenant-a')).toEqual(['a1', 'a2', 'end-a']);
    expect(values('tenant-b')).toEqual(['b1', 'end-b']);
    expect(seen.every((r) => r.headers.op?.toString() === 'c')).toBe(true);
    expect(seen.some((r) => r.value?.toString().startsWith('ABORTED'))).toBe(false);
  });
});
