/**
 * Where capture puts each event: the partition partitionForKey(tenant) of the txlog topic's
 * actual partition count (not the configured one, which applies only when capture creates
 * the topic), named explicitly on every record — the partition the snapshotter computes for
 * the tenant and for truncates of every tenant (`_all`).
 */
import { readLogPosition } from '../../../services/snapshotter/log-position.js';
import {
  TENANT_ALL,
  TENANT_GLOBAL,
  txlogTopic,
  txlogTopicSpec,
} from '../../../shared/events/index.js';
import { partitionForKey } from '../../../shared/kafka/index.js';
import { captureInProcess, setupSource, waitForLog } from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';

const PARTITIONS = 5;
const TENANTS = Array.from({ length: 12 }, (_, i) => `tenant-${i}`);

describe('capture: partitions', () => {
  test('each event goes to the partition of its tenant, the one the snapshotter reads', async ({
    source,
    kafka,
    log,
  }) => {
    await source.exec(`CREATE TABLE items (id int PRIMARY KEY, tenant_id text, note text)`);
    await setupSource(source);
    const admin = await kafka.port.admin();
    await admin
      .ensureTopic(txlogTopicSpec(kafka.topicPrefix, PARTITIONS))
      .finally(() => admin.disconnect());
    // Configured with fewer partitions than the topic has: the topic's count wins.
    const capture = await captureInProcess(source, kafka, log, { partitions: 3 });
    let events;
    try {
      for (const [i, tenant] of TENANTS.entries()) {
        await source.exec(`INSERT INTO items VALUES ($1, $2, 'x')`, [i, tenant]);
      }
      await source.exec(`INSERT INTO items VALUES (100, NULL, 'no tenant')`);
      await source.exec(`TRUNCATE items`);
      events = await waitForLog(
        kafka.port,
        kafka.topicPrefix,
        (e) => e.length === TENANTS.length + 2,
        'every insert and the truncate',
      );
    } finally {
      await capture.stop();
    }

    const tenantsSeen = new Set(events.map((e) => e.key));
    expect(tenantsSeen).toEqual(new Set([...TENANTS, TENANT_GLOBAL, TENANT_ALL]));
    // The tenants spread over several partitions, so the check below can tell them apart.
    expect(new Set(events.map((e) => e.partition)).size).toBeGreaterThan(1);
    for (const e of events) {
      expect(e.partition, e.key).toBe(partitionForKey(e.key, PARTITIONS));
    }
    for (const tenant of TENANTS) {
      const position = await readLogPosition(kafka.port, txlogTopic(kafka.topicPrefix), tenant);
      expect(position.partition).toBe(events.find((e) => e.key === tenant)?.partition);
      expect(position.truncatePartition).toBe(events.find((e) => e.key === TENANT_ALL)?.partition);
    }
  });
});
