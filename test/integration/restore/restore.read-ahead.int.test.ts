/**
 * The Kafka tail of a restore is read ahead while the snapshot loads, up to a budget: past
 * it the read ahead stops and the rest is read in turn. Either way the fold gets every event
 * of the tenant once, in order, and none of another tenant's (real broker; 4 MB of records,
 * more than one fetch).
 */
import type { LogStream } from '../../../services/restore/plan.js';
import { ReadAhead, readLog } from '../../../services/restore/read-log.js';
import { keyringFrom } from '../../../shared/archive/encryption.js';
import { type ChangeEvent, encodeChangeEvent, TENANT_ALL } from '../../../shared/events/index.js';
import { lsnFromBigInt } from '../../../shared/lsn.js';
import { insertEvent } from '../../support/events.js';
import { describe, expect, test } from '../../support/fixtures.js';

function event(tenant: string, n: number): ChangeEvent {
  const transaction = Math.floor(n / 25);
  return insertEvent({
    tenant,
    after: [{ kind: 'text', text: `${tenant}-${n}-${'x'.repeat(20_000)}` }],
    xid: 1000 + transaction,
    commitLsn: lsnFromBigInt(BigInt(1_000 + transaction * 100)),
    eventLsn: lsnFromBigInt(BigInt(1_000 + n)),
    sequence: n,
  });
}

describe('restore read-ahead', () => {
  test('delivers the tenant tail once and in order, within the budget and past it', async ({
    kafka,
    s3,
  }) => {
    const topic = `${kafka.topicPrefix}.txlog`;
    const admin = await kafka.port.admin();
    await admin.ensureTopic({ name: topic, partitions: 2 });
    const producer = await kafka.port.transactionalProducer({
      transactionalId: `${kafka.topicPrefix}-ahead`,
    });
    // Four transactions of 50 records, the tenant's interleaved with another tenant's.
    for (let t = 0; t < 4; t++) {
      const tx = await producer.begin();
      await tx.send(
        Array.from({ length: 50 }, (_, i) => {
          const n = t * 25 + Math.floor(i / 2);
          const tenant = i % 2 === 0 ? 'acme' : 'other';
          return {
            topic,
            partition: 0,
            key: tenant,
            value: encodeChangeEvent(event(tenant, n)),
          };
        }),
      );
      await tx.commit();
    }
    await producer.disconnect();
    const offsets = await admin.topicOffsets(topic).finally(() => admin.disconnect());
    const high = offsets.find((p) => p.partition === 0)?.high ?? 0n;
    expect(high).toBeGreaterThan(200n);

    const mine: LogStream = {
      tenant: 'acme',
      topic,
      partition: 0,
      from: 0n,
      segments: [],
      tail: { from: 0n, to: high },
    };
    const all: LogStream = { ...mine, tenant: TENANT_ALL, partition: 1, tail: undefined };
    const plan = {
      streams: [mine, all],
      target: { kind: 'lsn' as const, lsn: lsnFromBigInt(1n << 40n), text: 'x' },
    };
    const sources = {
      kafka: kafka.port,
      archive: s3.store,
      claims: s3.store,
      keyring: keyringFrom(undefined),
    };
    const expected = Array.from({ length: 100 }, (_, n) => `acme-${n}`);
    // Whole (default budget), stopped after the first batch (1 byte), and not read ahead.
    for (const ahead of [
      new ReadAhead(plan, sources),
      new ReadAhead(plan, sources, 1),
      undefined,
    ]) {
      const seen: string[] = [];
      const stats = await readLog(
        plan,
        sources,
        (e) => {
          expect(e.tenant).toBe('acme');
          const value = e.after?.[0];
          seen.push(value?.kind === 'text' ? value.text.split('-').slice(0, 2).join('-') : '?');
        },
        ahead,
      );
      expect(seen).toEqual(expected);
      expect(stats.tailEvents).toBe(100);
    }
  });
});
