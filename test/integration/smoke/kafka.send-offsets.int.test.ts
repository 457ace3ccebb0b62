/**
 * Offsets in a transaction (consume → transform → produce): a consumer group's offsets sent
 * with sendOffsets become its committed offsets when the transaction commits, and never
 * when it aborts.
 */
import type { KafkaPort } from '../../../shared/kafka/index.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait-for.js';

async function committedOffsets(
  port: KafkaPort,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const admin = await port.admin();
  try {
    return new Map((await admin.groupOffsets(groupId, topic)).map((o) => [o.partition, o.offset]));
  } finally {
    await admin.disconnect();
  }
}

describe('kafka transactions with offsets', () => {
  test('offsets land with a committed transaction and not with an aborted one', async ({
    kafka,
  }) => {
    const input = `${kafka.topicPrefix}.input`;
    const output = `${kafka.topicPrefix}.output`;
    const groupId = `${kafka.topicPrefix}-stream`;
    const admin = await kafka.port.admin();
    try {
      await admin.ensureTopic({ name: input, partitions: 2 });
      await admin.ensureTopic({ name: output, partitions: 1 });
    } finally {
      await admin.disconnect();
    }
    const record = (value: string) => ({
      topic: output,
      key: 'k',
      partition: 0,
      value: Buffer.from(value),
    });

    const producer = await kafka.port.transactionalProducer({
      transactionalId: `${kafka.topicPrefix}-stream`,
    });
    try {
      const committed = await producer.begin();
      await committed.send([record('committed')]);
      await committed.sendOffsets(groupId, [
        { topic: input, partition: 0, offset: 5n },
        { topic: input, partition: 1, offset: 3n },
      ]);
      await committed.commit();
      await waitFor(
        async () => {
          const offsets = await committedOffsets(kafka.port, groupId, input);
          return offsets.get(0) === 5n && offsets.get(1) === 3n;
        },
        { what: 'the offsets of the committed transaction' },
      );

      const aborted = await producer.begin();
      await aborted.send([record('aborted')]);
      await aborted.sendOffsets({ groupId }, [{ topic: input, partition: 0, offset: 9n }]);
      await aborted.abort();

      // A later transaction begins only once the aborted one is complete, markers written:
      // when its offset for partition 1 is visible, partition 0 shows what the abort left.
      const later = await producer.begin();
      await later.sendOffsets(groupId, [{ topic: input, partition: 1, offset: 4n }]);
      await later.commit();
      const offsets = await waitFor(
        async () => {
          const offsets = await committedOffsets(kafka.port, groupId, input);
          return offsets.get(1) === 4n && offsets;
        },
        { what: 'the offsets of the transaction after the aborted one' },
      );
      expect(offsets.get(0)).toBe(5n);
    } finally {
      await producer.disconnect();
    }

    const admin2 = await kafka.port.admin();
    const [end] = await admin2.topicOffsets(output).finally(() => admin2.disconnect());
    const values: string[] = [];
    await kafka.port.readRange(
      { topic: output, partition: 0, from: 0n, to: end?.high ?? 0n },
      (rs) => {
        for (const r of rs) values.push(r.value?.toString() ?? '');
      },
    );
    expect(values).toEqual(['committed']);
  });
});
