import { describe, expect, it } from 'vitest';

import { manualClock } from '../../shared/clock.js';
import type { KafkaPort } from '../../shared/kafka/index.js';
import { silentLogger } from '../../shared/logging.js';
import type { Queryable, QueryResult } from '../../shared/pg/index.js';

import { createCaptureMetrics } from './metrics.js';
import { startSession } from './session.js';

/** A source whose slot and publication are ready. */
const source: Queryable = {
  query: (sql: string): Promise<QueryResult> =>
    Promise.resolve(
      sql.includes('pg_replication_slots')
        ? {
            rows: [
              {
                plugin: 'pgoutput',
                slot_type: 'logical',
                database: 'db',
                same_database: true,
                active: false,
                active_pid: null,
                confirmed: '0/100',
                wal_status: 'reserved',
              },
            ],
            rowCount: 1,
          }
        : { rows: [{ '?column?': 1 }], rowCount: 1 },
    ),
};

function kafka(producer: () => Promise<never>): KafkaPort {
  const unused = (): never => {
    throw new Error('not used before the producer');
  };
  return {
    admin: unused,
    readRange: unused,
    consumer: unused,
    transactionalProducer: producer,
  };
}

describe('startSession', () => {
  it('fails with the producer error, not an unhandled rejection, when fencing fails while the topics are made ready', async () => {
    let topicsFailed = false;
    const topicsReady = new Promise<void>((_, reject) =>
      setTimeout(() => {
        topicsFailed = true;
        reject(new Error('topics: broker unreachable'));
      }, 50),
    );
    topicsReady.catch(() => undefined);
    const started = startSession({
      sourceUrl: 'postgres://source/db',
      slot: 's',
      publication: 'p',
      tenantColumn: 'tenant_id',
      txlogTopic: 'p.txlog',
      checkpointTopic: 'p.checkpoints',
      lingerMs: 10,
      maxBatchTransactions: 10,
      chunkBytes: 1 << 20,
      idleCheckpointMs: 10_000,
      // Fails at once, long before the topics settle.
      kafka: kafka(() => Promise.reject(new Error('fence: broker unreachable'))),
      topicsReady,
      source,
      lookup: { describe: () => Promise.reject(new Error('not used')) },
      claims: undefined,
      clock: manualClock(0),
      metrics: createCaptureMetrics(),
      log: silentLogger(),
      recordGap: () => Promise.resolve(),
    });
    // Vitest fails the run on an unhandled rejection, which the early failure would be.
    await expect(started).rejects.toThrow('topics: broker unreachable');
    expect(topicsFailed).toBe(true);
  });
});
