/**
 * Deterministic faults on the commit path. The writer passes a failpoint at every await of
 * a batch's way into Kafka (before the first send, between chunks, before the checkpoint,
 * before EndTxn, after EndTxn before the slot is told); at each one:
 *   - `backtrack capture` kills itself (BACKTRACK_FAILPOINTS), as `kill -9` would;
 *   - an in-process capture is held there while keepalives flow, its broker is killed, and
 *     it is let go against the dead broker.
 * Afterwards the log holds every committed operation exactly once, and the slot never
 * stood past the checkpoint. Holding a linger-timer commit while the broker dies is how
 * the loss of committed operations to an idle keepalive was reproduced.
 */
import { startCapture } from '../../../services/capture/index.js';
import {
  CAPTURE_FAILPOINTS,
  type CaptureFailpoint,
} from '../../../services/capture/kafka-writer.js';
import { createKafka, type KafkaPort } from '../../../shared/kafka/index.js';
import type { Lsn } from '../../../shared/lsn.js';
import {
  captureEnvironment,
  readTxlog,
  slotAndCheckpoint,
  setupSource,
  sourceConfigFor,
  spawnBacktrack,
  TEST_CAPTURE,
  waitForLog,
} from '../../support/capture.js';
import { startDedicatedKafka } from '../../support/dedicated-servers.js';
import { describe, expect, test } from '../../support/fixtures.js';
import {
  exactlyOnceProblems,
  opOf,
  type OpsOutcome,
  opsTableSql,
  startOpsWorkload,
} from '../../support/ops-workload.js';
import { waitFor } from '../../support/wait-for.js';

const POINTS: readonly CaptureFailpoint[] = Object.values(CAPTURE_FAILPOINTS);

/** Chunks of 64 KiB and, now and then, a bulk transaction of ~130 KB: it spans chunks. */
const WORKLOAD = { clients: 3, pauseMs: 20, bulkRatio: 0.005, bulkRows: 400 } as const;

/** Waits for every committed operation in the log; on a timeout, says what is missing. */
async function waitForAll(
  kafka: KafkaPort,
  topicPrefix: string,
  outcome: OpsOutcome,
): Promise<void> {
  await waitForLog(
    kafka,
    topicPrefix,
    (e) => e.filter((x) => opOf(x) !== undefined).length >= outcome.committed.size,
    `all ${outcome.committed.size} committed operations`,
    180_000,
  ).catch(async (error: unknown) => {
    const problems = exactlyOnceProblems(await readTxlog(kafka, topicPrefix), outcome);
    throw new Error(`${String(error)}; ${problems.join('; ')}`);
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('capture: faults at each await of the commit path', () => {
  test(
    'capture killed at each failpoint: nothing lost, nothing twice, the slot never past the checkpoint',
    { timeout: 400_000 },
    async ({ source, kafka }) => {
      await source.exec(opsTableSql());
      await setupSource(source);
      const env = captureEnvironment(source, kafka, {
        BACKTRACK_CAPTURE_CHUNK_BYTES: String(64 * 1024),
        BACKTRACK_CAPTURE_LINGER_MS: '20',
      });
      const workload = startOpsWorkload(source.url, source.schema, WORKLOAD);
      const positions: { point: string; slot: Lsn; checkpoint: Lsn }[] = [];
      try {
        for (const point of POINTS) {
          // The third time the point is reached: a few batches went through before it.
          const capture = spawnBacktrack(['capture'], {
            ...env,
            BACKTRACK_FAILPOINTS: `${point}@3`,
          });
          const exited = await Promise.race([
            capture.exited,
            new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 90_000)),
          ]);
          if (exited !== 'SIGKILL') capture.kill('SIGKILL');
          expect(exited, capture.output().slice(-4000)).toBe('SIGKILL');
          expect(capture.output()).toContain(`"failpoint":"${point}"`);
          positions.push({
            point,
            ...(await slotAndCheckpoint(kafka.port, kafka.topicPrefix, source.url, source.slot)),
          });
        }
      } finally {
        await workload.stop();
      }
      const outcome = await workload.stop();
      expect(positions.filter((p) => p.slot > p.checkpoint)).toEqual([]);
      // The kills fell while the log was filling: not everything was in it yet.
      const beforeFinal = (await readTxlog(kafka.port, kafka.topicPrefix)).filter(
        (e) => opOf(e) !== undefined,
      );
      expect(beforeFinal.length).toBeGreaterThan(0);

      const final = spawnBacktrack(['capture'], env);
      try {
        await waitForAll(kafka.port, kafka.topicPrefix, outcome);
      } finally {
        final.kill('SIGTERM');
      }
      expect(await final.exited).toBe(0);
      expect(exactlyOnceProblems(await readTxlog(kafka.port, kafka.topicPrefix), outcome)).toEqual(
        [],
      );
    },
  );

  test(
    'the broker killed while capture is held at each failpoint: nothing lost, nothing twice',
    { timeout: 600_000 },
    async ({ source, log }) => {
      const broker = await startDedicatedKafka();
      try {
        await source.exec(opsTableSql());
        await setupSource(source);
        const topicPrefix = source.slot;
        const kafka = createKafka({ brokers: [broker.bootstrap], clientId: 'backtrack-test', log });
        // Keepalives every half second: while capture is held, the server keeps asking.
        const url = new URL(source.url);
        url.searchParams.set('options', '-c wal_sender_timeout=1s');
        let armed:
          { point: CaptureFailpoint; reached: () => void; release: Promise<void> } | undefined;
        const capture = await startCapture({
          source: sourceConfigFor(source, { url: url.toString() }),
          kafka: {
            brokers: [broker.bootstrap],
            clientId: 'backtrack-test',
            topicPrefix,
            txlogPartitions: 3,
          },
          capture: { ...TEST_CAPTURE, chunkBytes: 64 * 1024, lingerMs: 20, idleCheckpointMs: 0 },
          s3: undefined,
          encryption: undefined,
          log,
          statusIntervalMs: 200,
          // A dead broker fails the held operation within seconds, not the default minute.
          kafkaOperationTimeoutMs: 8_000,
          failpoint: async (name) => {
            const hold = armed;
            if (hold?.point !== name) return;
            armed = undefined;
            hold.reached();
            await hold.release;
          },
        });
        await capture.streaming;
        const workload = startOpsWorkload(source.url, source.schema, WORKLOAD);
        const restarts = async (): Promise<number> =>
          (await capture.metrics.restarts.get()).values[0]?.value ?? 0;
        const positions: { point: string; slot: Lsn; checkpoint: Lsn }[] = [];
        try {
          for (const point of POINTS) {
            const reached = deferred();
            const release = deferred();
            armed = { point, reached: reached.resolve, release: release.promise };
            await Promise.race([
              reached.promise,
              new Promise((_, reject) =>
                setTimeout(() => reject(new Error(`${point} was not reached`)), 60_000),
              ),
            ]);
            const restartsBefore = await restarts();
            // Held long enough for several keepalives, then the broker dies under it.
            await new Promise((resolve) => setTimeout(resolve, 1_500));
            await broker.stop();
            release.resolve();
            await waitFor(async () => (await restarts()) > restartsBefore, {
              timeoutMs: 60_000,
              what: `the session held at ${point} to end`,
            });
            await broker.start();
            await waitFor(() => capture.phase() === 'streaming', {
              timeoutMs: 120_000,
              what: `capture to stream again after ${point}`,
            });
            positions.push({
              point,
              ...(await slotAndCheckpoint(kafka, topicPrefix, source.url, source.slot)),
            });
          }
          const outcome = await workload.stop();
          await waitForAll(kafka, topicPrefix, outcome);
          expect(exactlyOnceProblems(await readTxlog(kafka, topicPrefix), outcome)).toEqual([]);
          expect(positions.filter((p) => p.slot > p.checkpoint)).toEqual([]);
        } finally {
          armed = undefined;
          await workload.stop();
          await capture.stop();
        }
      } finally {
        await broker.dispose();
      }
    },
  );
});
