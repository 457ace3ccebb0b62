/**
 * An idle publication does not pin WAL: when nothing captured changes while the server
 * writes WAL for other tables, capture checkpoints the keepalives' position in Kafka (all
 * of it accounted for) and then confirms it, so the slot follows the server instead of
 * holding WAL back, and never passes the checkpoint.
 */
import { parseLsn } from '../../../shared/lsn.js';
import {
  captureInProcess,
  confirmedFlush,
  readTxlog,
  setupSource,
  slotAndCheckpoint,
  waitForLog,
} from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait-for.js';

describe('capture: idle source', () => {
  test('the slot follows the server through WAL of tables nobody captures', async ({
    source,
    kafka,
    log,
  }) => {
    await source.exec(`
      CREATE TABLE captured (id int PRIMARY KEY, tenant_id text NOT NULL);
      CREATE TABLE elsewhere (id int PRIMARY KEY, payload text);`);
    await setupSource(source, { tables: [`${source.schema}.captured`] });
    // Keepalives every second instead of every 30 s (the server default timeout is 60 s).
    const url = new URL(source.url);
    url.searchParams.set('options', '-c wal_sender_timeout=2s');
    const capture = await captureInProcess(source, kafka, log, {
      sourceUrl: url.toString(),
      statusIntervalMs: 500,
    });
    try {
      await source.exec(`INSERT INTO captured VALUES (1, 'acme')`);
      await waitForLog(kafka.port, kafka.topicPrefix, (e) => e.length === 1, 'the captured insert');

      await source.exec(
        `INSERT INTO elsewhere SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g`,
      );
      const serverAt = parseLsn(
        String((await source.pool.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn),
      );
      await waitFor(
        async () => {
          const confirmed = await confirmedFlush(source.url, source.slot);
          return confirmed !== undefined && parseLsn(confirmed) >= serverAt;
        },
        { timeoutMs: 30_000, intervalMs: 200, what: 'the slot to reach the server position' },
      );
      // Nothing was written to the log for the uncaptured table, and the slot followed a
      // checkpoint: it never passes what the checkpoint topic says is accounted for.
      expect(await readTxlog(kafka.port, kafka.topicPrefix)).toHaveLength(1);
      const positions = await slotAndCheckpoint(
        kafka.port,
        kafka.topicPrefix,
        source.url,
        source.slot,
      );
      expect(positions.checkpoint).toBeGreaterThanOrEqual(positions.slot);
    } finally {
      await capture.stop();
    }
  });
});
