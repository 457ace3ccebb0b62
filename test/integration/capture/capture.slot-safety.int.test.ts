/**
 * Slot safety: with Kafka stopped for a while under load, the slot's confirmed_flush_lsn
 * never passes what Kafka committed, and capture resumes without loss when Kafka returns.
 * Runs on a Kafka broker of its own (stopping the shared one would break other tests).
 */
import { startCapture } from '../../../services/capture/index.js';
import { decodeChangeEvent, txlogTopic } from '../../../shared/events/index.js';
import { createKafka, type KafkaPort } from '../../../shared/kafka/index.js';
import { type Lsn, parseLsn } from '../../../shared/lsn.js';
import { withPgConnection } from '../../../shared/pg/index.js';
import {
  confirmedFlush,
  readTxlog,
  setupSource,
  sourceConfigFor,
  TEST_CAPTURE,
  waitForLog,
} from '../../support/capture.js';
import { startDedicatedKafka } from '../../support/dedicated-servers.js';
import { describe, expect, test } from '../../support/fixtures.js';
import {
  exactlyOnceProblems,
  opOf,
  opsTableSql,
  startOpsWorkload,
} from '../../support/ops-workload.js';

const OUTAGE_MS = 12_000;

async function lastStableOffsets(kafka: KafkaPort, topic: string): Promise<Map<number, bigint>> {
  const admin = await kafka.admin();
  try {
    return new Map((await admin.topicOffsets(topic)).map((p) => [p.partition, p.high]));
  } finally {
    await admin.disconnect();
  }
}

describe('capture: slot safety', () => {
  test(
    'Kafka down under load: the slot stays behind what Kafka committed; nothing is lost after',
    { timeout: 300_000 },
    async ({ source, log }) => {
      const broker = await startDedicatedKafka();
      try {
        await source.exec(opsTableSql());
        await setupSource(source);
        const topicPrefix = source.slot;
        const kafka = createKafka({ brokers: [broker.bootstrap], clientId: 'backtrack-test', log });
        const capture = await startCapture({
          source: sourceConfigFor(source),
          kafka: {
            brokers: [broker.bootstrap],
            clientId: 'backtrack-test',
            topicPrefix,
            txlogPartitions: 3,
          },
          capture: TEST_CAPTURE,
          s3: undefined,
          encryption: undefined,
          log,
          statusIntervalMs: 200,
        });
        await capture.streaming;
        const workload = startOpsWorkload(source.url, source.schema, { clients: 3, pauseMs: 2 });
        try {
          await waitForLog(
            kafka,
            topicPrefix,
            (e) => e.filter((x) => opOf(x) !== undefined).length >= 200,
            '200 operations',
          );

          const committedBefore = await lastStableOffsets(kafka, txlogTopic(topicPrefix));
          // Capture may still commit between the offsets read above and the broker going
          // down; a record produced after this instant was surely not committed before.
          const stoppingAt = Date.now();
          await broker.stop();
          // The slot's position, sampled on one connection of its own, one query at a time
          // (a connection per sample took longer than the sampling interval on a busy machine).
          const samples: { atMs: number; lsn: Lsn }[] = [];
          let outage = true;
          const sampler = withPgConnection(source.url, 'backtrack-test', async (db) => {
            while (outage) {
              const result = await db.query(
                'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
                [source.slot],
              );
              const lsn: unknown = result.rows[0]?.lsn;
              if (typeof lsn === 'string') samples.push({ atMs: Date.now(), lsn: parseLsn(lsn) });
              await new Promise((resolve) => setTimeout(resolve, 200));
            }
          });
          const committedDuringOutage = workload.committedCount();
          await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
          outage = false;
          await sampler;
          expect(workload.committedCount()).toBeGreaterThan(committedDuringOutage);
          // Watched through the whole outage, not only at its start.
          expect(samples.length).toBeGreaterThanOrEqual(10);
          expect((samples.at(-1)?.atMs ?? 0) - (samples[0]?.atMs ?? 0)).toBeGreaterThan(
            (OUTAGE_MS * 3) / 4,
          );
          await broker.start();

          const outcome = await workload.stop();
          await waitForLog(
            kafka,
            topicPrefix,
            (e) => e.filter((x) => opOf(x) !== undefined).length >= outcome.committed.size,
            `all ${outcome.committed.size} committed operations after the outage`,
            180_000,
          ).catch(async (error: unknown) => {
            // What capture and the log say, so a failure here can be told apart: capture
            // stuck, or its transactions committed but not visible (a stuck stable offset).
            const value = async (m: { get(): Promise<{ values: { value: number }[] }> }) =>
              (await m.get()).values[0]?.value;
            const visible = await readTxlog(kafka, topicPrefix);
            const seen = visible.filter((x) => opOf(x) !== undefined).length;
            const visibleOps = new Set(visible.map(opOf));
            const missing = [...outcome.committed].filter((op) => !visibleOps.has(op));
            // Where the missing operations are, read past the stable offset uncommitted:
            // at or past it, an unresolved transaction hides them; before it, they are in
            // aborted transactions; nowhere, capture never wrote them.
            const stable = await lastStableOffsets(kafka, txlogTopic(topicPrefix));
            const found: { op: string; partition: number; offset: string; pastStable: boolean }[] =
              [];
            for (const [partition, lso] of stable) {
              await kafka
                .readRange(
                  { topic: txlogTopic(topicPrefix), partition, from: 0n, to: lso + 1_000_000n },
                  (records) => {
                    for (const record of records) {
                      if (!record.value) continue;
                      const op = opOf({
                        partition,
                        offset: record.offset,
                        key: '',
                        timestampMs: record.timestampMs,
                        event: decodeChangeEvent(record.value),
                      });
                      if (op !== undefined && missing.includes(op)) {
                        found.push({
                          op: op.toString(),
                          partition,
                          offset: record.offset.toString(),
                          pastStable: record.offset >= lso,
                        });
                      }
                    }
                  },
                  { timeoutMs: 5_000, uncommitted: true },
                )
                .catch(() => undefined);
            }
            const state = {
              phase: capture.phase(),
              eventsCaptured: await value(capture.metrics.events),
              kafkaTransactions: await value(capture.metrics.kafkaTransactions),
              lastCommittedLsn: await value(capture.metrics.lastCommittedLsn),
              confirmedFlush: await confirmedFlush(source.url, source.slot),
              stableOffsets: Object.fromEntries(
                await lastStableOffsets(kafka, txlogTopic(topicPrefix)),
              ),
              operationsVisible: seen,
              missing: missing.map(String).slice(0, 20),
              missingFoundUncommitted: found.slice(0, 20),
            };
            throw new Error(
              `${error instanceof Error ? error.message : String(error)}; ${JSON.stringify(state, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`,
            );
          });
          const events = await readTxlog(kafka, topicPrefix);
          expect(exactlyOnceProblems(events, outcome)).toEqual([]);
          // Capture streams again by itself. Whether a session ended on the way is up to the
          // client: librdkafka retries the send or commit in flight until the broker is back,
          // so an outage shorter than the operation deadline (60 s) ends no session, where
          // kafkajs failed it at once and capture restarted from the checkpoint.
          expect(capture.phase()).toBe('streaming');

          // During the outage the slot confirmed only positions whose transactions were
          // already committed in Kafka: no event below a sampled position was written after
          // the broker began to stop (it would have been confirmed before Kafka had it).
          const highestSample = samples.reduce((a, b) => (a > b.lsn ? a : b.lsn), 0n as Lsn);
          const escaped = events.filter(
            (e) =>
              e.event.commitLsn < highestSample &&
              e.offset >= (committedBefore.get(e.partition) ?? 0n) &&
              e.timestampMs > stoppingAt,
          );
          expect(escaped.map((e) => opOf(e))).toEqual([]);
        } finally {
          await workload.stop();
          await capture.stop();
        }
      } finally {
        await broker.dispose();
      }
    },
  );
});
