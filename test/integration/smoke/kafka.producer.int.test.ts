/**
 * The contract of the port's transactional producer, on the real broker: records must name
 * their partition; a record the topic cannot take is refused for good; a new producer with
 * the same transactional id fences the old one and aborts its open transaction; unreachable
 * brokers fail as retriable KAFKA_UNAVAILABLE within the operation deadline; records produced
 * without waiting are delivered by the commit, or fail it.
 */
import { isBacktrackError, isRetriable } from '../../../shared/errors.js';
import { createKafka, type KafkaPort } from '../../../shared/kafka/index.js';
import { describe, expect, test } from '../../support/fixtures.js';

/** The committed values of partition 0 of `topic`, up to its last stable offset. */
async function committedValues(port: KafkaPort, topic: string): Promise<string[]> {
  const admin = await port.admin();
  const [end] = await admin.topicOffsets(topic).finally(() => admin.disconnect());
  const values: string[] = [];
  await port.readRange({ topic, partition: 0, from: 0n, to: end?.high ?? 0n }, (records) => {
    for (const r of records) values.push(r.value?.toString() ?? '');
  });
  return values;
}

async function rejection(operation: Promise<unknown>): Promise<unknown> {
  return operation.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('kafka transactional producer', () => {
  test('refuses a record without a partition, and one larger than the topic takes', async ({
    kafka,
  }) => {
    const topic = `${kafka.topicPrefix}.refusals`;
    const admin = await kafka.port.admin();
    await admin
      .ensureTopic({ name: topic, partitions: 1, config: { 'max.message.bytes': '2000' } })
      .finally(() => admin.disconnect());
    const record = (value: string | Buffer) => ({
      topic,
      key: 'k',
      partition: 0,
      value: Buffer.isBuffer(value) ? value : Buffer.from(value),
    });

    const producer = await kafka.port.transactionalProducer({
      transactionalId: `${kafka.topicPrefix}-refusals`,
    });
    try {
      const first = await producer.begin();
      const noPartition = await rejection(
        first.send([record('a'), { ...record('b'), partition: undefined }]),
      );
      expect(isBacktrackError(noPartition, 'INTERNAL')).toBe(true);
      expect(String((noPartition as Error).message)).toMatch(/has no valid partition/);
      // Refused before anything was produced: the transaction goes on unharmed.
      await first.send([record('kept')]);
      await first.commit();

      const second = await producer.begin();
      const tooLarge = await rejection(second.send([record(Buffer.alloc(5_000))]));
      expect(isBacktrackError(tooLarge, 'KAFKA_REFUSED')).toBe(true);
      expect(isRetriable(tooLarge)).toBe(false);
      expect(String((tooLarge as Error).message)).toMatch(/MSG_SIZE_TOO_LARGE/);
      await expect(second.commit()).rejects.toThrow(/must be aborted/);
      await second.abort();
    } finally {
      await producer.disconnect();
    }
    // After a refusal the producer is replaced, as the port asks (TransactionalProducer).
    const successor = await kafka.port.transactionalProducer({
      transactionalId: `${kafka.topicPrefix}-refusals`,
    });
    try {
      const third = await successor.begin();
      await third.send([record('after')]);
      await third.commit();
    } finally {
      await successor.disconnect();
    }
    expect(await committedValues(kafka.port, topic)).toEqual(['kept', 'after']);
  });

  test('a send larger than the client queue resolves once every record is acknowledged', async ({
    kafka,
  }) => {
    const topic = `${kafka.topicPrefix}.large-send`;
    const admin = await kafka.port.admin();
    await admin.ensureTopic({ name: topic, partitions: 3 }).finally(() => admin.disconnect());
    // librdkafka holds at most 20,000 records here: the rest wait for room.
    const records = Array.from({ length: 150_000 }, (_, i) => ({
      topic,
      key: null,
      partition: i % 3,
      value: Buffer.from(String(i)),
    }));
    const producer = await kafka.port.transactionalProducer({
      transactionalId: `${kafka.topicPrefix}-large-send`,
    });
    try {
      const transaction = await producer.begin();
      await transaction.send(records);
      await transaction.commit();
    } finally {
      await producer.disconnect();
    }
    const admin2 = await kafka.port.admin();
    const offsets = await admin2.topicOffsets(topic).finally(() => admin2.disconnect());
    // Each partition holds its 50,000 records and the commit marker.
    expect(offsets.map((o) => o.high)).toEqual([50_001n, 50_001n, 50_001n]);
  });

  test('produce hands records over without waiting; the commit delivers them in order, or fails when one is refused', async ({
    kafka,
  }) => {
    const topic = `${kafka.topicPrefix}.produce`;
    // Kafka's max.message.bytes bounds a batch of records: only single small ones pass.
    const narrow = `${kafka.topicPrefix}.produce-narrow`;
    const admin = await kafka.port.admin();
    await admin
      .ensureTopic({ name: topic, partitions: 1 })
      .then(() =>
        admin.ensureTopic({ name: narrow, partitions: 1, config: { 'max.message.bytes': '2000' } }),
      )
      .finally(() => admin.disconnect());
    const record = (value: string | Buffer, to = topic) => ({
      topic: to,
      key: 'k',
      partition: 0,
      value: Buffer.isBuffer(value) ? value : Buffer.from(value),
    });
    const transactionalId = `${kafka.topicPrefix}-produce`;

    // More records than librdkafka's queue holds at once: the rest wait for room.
    const values = Array.from({ length: 120_000 }, (_, i) => `v${i}`);
    const producer = await kafka.port.transactionalProducer({ transactionalId });
    try {
      const transaction = await producer.begin();
      for (let i = 0; i < values.length; i += 40_000)
        await transaction.produce(values.slice(i, i + 40_000).map((v) => record(v)));
      await transaction.commit();

      // The broker refuses the large record only when it arrives: produce resolved already,
      // so the commit is what must fail, and none of the transaction may become visible.
      const doomed = await producer.begin();
      await doomed.produce([
        record('lost before'),
        record(Buffer.alloc(5_000), narrow),
        record('lost after'),
      ]);
      const refused = await rejection(doomed.commit());
      expect(isBacktrackError(refused)).toBe(true);
      expect(String((refused as Error).message)).toMatch(/MSG_SIZE_TOO_LARGE/);
      await doomed.abort();
    } finally {
      await producer.disconnect();
    }
    const successor = await kafka.port.transactionalProducer({ transactionalId });
    try {
      const transaction = await successor.begin();
      await transaction.produce([record('after')]);
      await transaction.commit();
    } finally {
      await successor.disconnect();
    }
    expect(await committedValues(kafka.port, topic)).toEqual([...values, 'after']);
    expect(await committedValues(kafka.port, narrow)).toEqual([]);
  });

  test('a new producer with the same id aborts the open transaction of the old one', async ({
    kafka,
  }) => {
    const topic = `${kafka.topicPrefix}.fencing`;
    const admin = await kafka.port.admin();
    await admin.ensureTopic({ name: topic, partitions: 1 }).finally(() => admin.disconnect());
    const record = (value: string) => ({
      topic,
      key: 'k',
      partition: 0,
      value: Buffer.from(value),
    });
    const transactionalId = `${kafka.topicPrefix}-fencing`;

    const old = await kafka.port.transactionalProducer({ transactionalId });
    const successor = await (async () => {
      try {
        const open = await old.begin();
        await open.send([record('of the old producer')]);
        const successor = await kafka.port.transactionalProducer({ transactionalId });
        const fenced = await rejection(open.commit());
        expect(isBacktrackError(fenced, 'KAFKA_UNAVAILABLE')).toBe(true);
        return successor;
      } finally {
        await old.disconnect();
      }
    })();
    try {
      const transaction = await successor.begin();
      await transaction.send([record('of the successor')]);
      await transaction.commit();
    } finally {
      await successor.disconnect();
    }
    expect(await committedValues(kafka.port, topic)).toEqual(['of the successor']);
  });

  test('unreachable brokers fail as retriable KAFKA_UNAVAILABLE within the deadline', async ({
    log,
  }) => {
    const port = createKafka({
      brokers: ['127.0.0.1:1'],
      clientId: 'backtrack-test',
      log,
      operationTimeoutMs: 3_000,
    });
    const started = Date.now();
    const error = await rejection(port.transactionalProducer({ transactionalId: 'unreachable' }));
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(isBacktrackError(error, 'KAFKA_UNAVAILABLE')).toBe(true);
    expect(isRetriable(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/cannot reach Kafka at 127\.0\.0\.1:1/);
  });
});
