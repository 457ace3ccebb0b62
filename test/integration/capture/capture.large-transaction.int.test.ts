/**
 * One transaction of 1,000,000 rows is captured completely while the capture process stays
 * under 300 MB resident: events go into the open Kafka transaction as they arrive, with
 * the replication stream paused while Kafka takes them.
 */
import { readCheckpoint } from '../../../shared/events/index.js';
import { checkpointTopic, decodeChangeEvent, txlogTopic } from '../../../shared/events/index.js';
import { parseLsn } from '../../../shared/lsn.js';
import {
  captureEnvironment,
  residentBytes,
  setupSource,
  spawnBacktrack,
} from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait-for.js';

const ROWS = 1_000_000;
const TENANTS = 10;
const RSS_LIMIT = 300 * 1024 * 1024;

describe('capture: a large transaction', () => {
  test(
    `${ROWS.toLocaleString('en')} rows in one transaction, under 300 MB resident`,
    { timeout: 600_000 },
    async ({ source, kafka, annotate }) => {
      await source.exec(
        `CREATE TABLE bulk (id bigint PRIMARY KEY, tenant_id text NOT NULL, payload text NOT NULL)`,
      );
      await setupSource(source);
      const capture = spawnBacktrack(
        ['capture'],
        captureEnvironment(source, kafka, {
          BACKTRACK_LOG_LEVEL: 'info',
          BACKTRACK_CAPTURE_CHUNK_BYTES: String(1024 * 1024),
        }),
      );
      let peak = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, residentBytes(capture.pid) ?? 0);
      }, 100);
      try {
        await waitFor(() => capture.output().includes('"msg":"capture streaming"'), {
          what: 'capture to stream',
        });
        const walNow = async () =>
          parseLsn(
            String(
              (await source.pool.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn,
            ),
          );
        let xid = 0;
        const inserted = await source.pool.transaction(async (session) => {
          // pgoutput sends the 32-bit xid.
          const current = await session.query(
            `SELECT (pg_current_xact_id()::text::bigint % 4294967296)::bigint AS xid`,
          );
          xid = Number(current.rows[0]?.xid);
          return session.query(
            `INSERT INTO "${source.schema}".bulk
           SELECT g, 'tenant-' || (g % ${TENANTS}), md5(g::text) || md5((g * 7)::text)
             FROM generate_series(1, ${ROWS}) AS g`,
          );
        });
        expect(inserted.rowCount).toBe(ROWS);
        const walAfter = await walNow();

        // Kafka committed the transaction once a checkpoint's commit lies between its start and its end.
        await waitFor(
          async () => {
            const checkpoint = await readCheckpoint(
              kafka.port,
              checkpointTopic(kafka.topicPrefix),
              source.slot,
            );
            // By its xid, or by a transaction that committed after it (a checkpoint names the
            // last transaction Kafka holds, in commit order; other tests' transactions reach
            // this slot too: restore probes and schema-history records, which capture leaves
            // out). An idle checkpoint keeps the commit LSN of the transaction before.
            return (
              checkpoint !== undefined &&
              (checkpoint.xid === xid || checkpoint.commitLsn > walAfter)
            );
          },
          {
            timeoutMs: 480_000,
            intervalMs: 1_000,
            what: 'the checkpoint of the large transaction',
          },
        );
      } finally {
        clearInterval(sampler);
        capture.kill('SIGTERM');
      }
      expect(await capture.exited).toBe(0);
      expect(peak, `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`).toBeLessThan(RSS_LIMIT);
      expect(peak).toBeGreaterThan(0);

      // Every row is in the log, once, under its tenant.
      const admin = await kafka.port.admin();
      const partitions = await admin
        .topicOffsets(txlogTopic(kafka.topicPrefix))
        .finally(() => admin.disconnect());
      const seen = new Uint8Array(ROWS + 1);
      let events = 0;
      let misplaced = 0;
      for (const { partition, low, high } of partitions) {
        await kafka.port.readRange(
          { topic: txlogTopic(kafka.topicPrefix), partition, from: low, to: high },
          (records) => {
            for (const record of records) {
              if (!record.value) continue;
              const event = decodeChangeEvent(record.value);
              if (event.table !== 'bulk') continue;
              const id = event.after?.[0];
              if (id?.kind !== 'text') continue;
              const n = Number(id.text);
              seen[n] = (seen[n] ?? 0) + 1;
              events += 1;
              if (record.key?.toString() !== `tenant-${n % TENANTS}`) misplaced += 1;
            }
          },
          { timeoutMs: 480_000 },
        );
      }
      expect(events).toBe(ROWS);
      expect(misplaced).toBe(0);
      expect(seen.subarray(1).every((count) => count === 1)).toBe(true);
      await annotate(
        `peak capture RSS ${(peak / 2 ** 20).toFixed(0)} MiB for ${ROWS} rows`,
        'measurement',
      );
    },
  );
});
