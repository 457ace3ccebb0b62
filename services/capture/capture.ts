/**
 * The capture service: creates the log's topics, serves metrics, and runs sessions
 * (session.ts) one after another. A session that fails with a retriable error (Postgres or
 * Kafka unreachable, slot busy for a moment) is replaced by a new one from the checkpoint
 * after a jittered backoff; at start-up that is tried for BACKTRACK_CAPTURE_STARTUP_TIMEOUT_MS,
 * once streaming for ever. Any other error stops the service with its message.
 */
import { keyringFrom } from '../../shared/archive/encryption.js';
import { recordCaptureGap } from '../../shared/catalog/capture-gaps.js';
import { type Clock, systemClock } from '../../shared/clock.js';
import type {
  CaptureConfig,
  CatalogConfig,
  EncryptionConfig,
  KafkaConfig,
  S3Config,
  SourceConfig,
} from '../../shared/config/index.js';
import { BacktrackError, isRetriable } from '../../shared/errors.js';
import {
  checkpointTopic,
  checkpointTopicSpec,
  txlogTopic,
  txlogTopicSpec,
} from '../../shared/events/index.js';
import { failedCheckOf, type HealthReason } from '../../shared/health.js';
import { createKafka, type KafkaPort } from '../../shared/kafka/index.js';
import { type Service, service } from '../../shared/lifecycle.js';
import type { Logger } from '../../shared/logging.js';
import { formatLsn } from '../../shared/lsn.js';
import { startMetricsServer, type MetricsServer } from '../../shared/metrics.js';
import { createPgPool } from '../../shared/pg/index.js';
import { backoffDelay } from '../../shared/retry.js';
import { createObjectStore } from '../../shared/s3/index.js';

import type { CaptureFailpoint } from './kafka-writer.js';
import { type CaptureMetrics, createCaptureMetrics } from './metrics.js';
import { sourceRelationLookup } from './relation-cache.js';
import { type CaptureGap, type Session, startSession } from './session.js';
import { explainSourceError } from './source.js';

/** What capture needs. */
export interface CaptureDeps {
  readonly source: SourceConfig;
  readonly kafka: KafkaConfig;
  readonly capture: CaptureConfig;
  /** Object storage for claim checks of oversized rows (optional). */
  readonly s3: S3Config | undefined;
  /**
   * Encrypts claim checks as segments and snapshots are (undefined: stored plain). Required
   * so that no caller leaves it out by accident.
   */
  readonly encryption: EncryptionConfig | undefined;
  /**
   * The catalog, where capture records WAL it lost (a slot found ahead of the checkpoint).
   * Without it, such a gap stops capture with an error instead.
   */
  readonly catalog?: CatalogConfig | undefined;
  /** Testing only: called at each point of the writer's commit path. */
  readonly failpoint?: (name: CaptureFailpoint) => void | Promise<void>;
  /** Longest a Kafka producer operation may take before the session fails (ms; 60 s). */
  readonly kafkaOperationTimeoutMs?: number;
  readonly log: Logger;
  readonly clock?: Clock;
  /** How often the durable position is reported to the server (ms). */
  readonly statusIntervalMs?: number;
}

/** The phase capture is in. */
export type CapturePhase = 'starting' | 'streaming' | 'restarting' | 'stopped' | 'failed';

/** What /healthz answers for each phase. */
const PHASE_HEALTH: Readonly<Record<CapturePhase, HealthReason>> = {
  starting: 'starting',
  streaming: 'ok',
  restarting: 'restarting',
  stopped: 'stopped',
  failed: 'failed',
};

/** A running capture. */
export interface CaptureService extends Service {
  /** Resolves when capture stopped after stop(); rejects with the error that stopped it. */
  readonly done: Promise<void>;
  /** Resolves once the first session streams; rejects when capture fails before that. */
  readonly streaming: Promise<void>;
  /** Address and port of /metrics and /healthz. */
  readonly metricsHost: string;
  readonly metricsPort: number;
  readonly metrics: CaptureMetrics;
  phase(): CapturePhase;
}

const RESTART_BACKOFF = { initialMs: 500, maxMs: 30_000 };

/** Starts capture; resolves once its topics exist and the metrics endpoint listens. */
export async function startCapture(deps: CaptureDeps): Promise<CaptureService> {
  const log = deps.log.child({ component: 'capture', slot: deps.source.slot });
  const clock = deps.clock ?? systemClock;
  const metrics = createCaptureMetrics();
  metrics.slot.set({ slot: deps.source.slot }, 1);
  const kafka = createKafka({
    brokers: deps.kafka.brokers,
    clientId: `${deps.kafka.clientId}-capture`,
    log,
    retries: 3,
    operationTimeoutMs: deps.kafkaOperationTimeoutMs,
  });
  const source = createPgPool(deps.source.url, {
    applicationName: 'backtrack-capture-catalog',
    max: 2,
  });
  const claimStore = deps.s3 ? createObjectStore(deps.s3) : undefined;
  const claims = claimStore && {
    store: claimStore,
    encryptWith: keyringFrom(deps.encryption).current,
  };
  const topic = txlogTopic(deps.kafka.topicPrefix);
  const recordGap = async (gap: CaptureGap): Promise<void> => {
    if (!deps.catalog) {
      throw new BacktrackError(
        'CONFIG_INVALID',
        `slot ${gap.slot} is confirmed at ${formatLsn(gap.toLsn)}, past the capture checkpoint ${formatLsn(gap.fromLsn)}: the WAL between them never reached Kafka; set BACKTRACK_CATALOG_URL so capture can record the gap and resume`,
      );
    }
    const catalog = createPgPool(deps.catalog.url, {
      applicationName: 'backtrack-capture-gap',
      max: 1,
    });
    try {
      await recordCaptureGap(catalog, { ...gap, topic });
    } finally {
      await catalog.end();
    }
  };

  let phase: CapturePhase = 'starting';
  let session: Session | undefined;
  let lastError: unknown;
  let stopping = false;
  const wake = new AbortController();

  const metricsServer: MetricsServer = await startMetricsServer({
    registry: metrics.registry,
    host: deps.capture.metricsHost,
    port: deps.capture.metricsPort,
    // Generic words only: the slot, the position and the error go to the log (`detail`).
    health: () => ({
      healthy: phase === 'streaming',
      checks: { capture: PHASE_HEALTH[phase], ...failedCheckOf(lastError) },
      detail: {
        phase,
        durableLsn: session ? formatLsn(session.durable()) : null,
        err: lastError,
      },
    }),
    log,
  });
  log.info({ host: metricsServer.host, port: metricsServer.port }, 'capture metrics listening');

  const lagTimer = setInterval(() => {
    const pending = session?.oldestPendingCommitUs();
    metrics.secondsBehind.set(
      pending === undefined ? 0 : Math.max(0, clock.nowMs() / 1000 - Number(pending) / 1e6),
    );
    source
      .query(
        `SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint AS lag FROM pg_replication_slots WHERE slot_name = $1`,
        [deps.source.slot],
      )
      .then((result) => {
        const lag = result.rows[0]?.lag;
        if (typeof lag === 'string') metrics.slotLagBytes.set(Number(lag));
      })
      .catch(() => undefined);
  }, 5_000);
  lagTimer.unref();

  const run = async (): Promise<void> => {
    const startedMs = clock.nowMs();
    let streamedOnce = false;
    for (let attempt = 0; !stopping;) {
      try {
        // Created side by side with the session's source checks; it fences nothing.
        const topicsReady = streamedOnce ? undefined : ensureTopics(kafka, deps.kafka);
        topicsReady?.catch(() => undefined);
        session = await startSession({
          topicsReady,
          sourceUrl: deps.source.url,
          slot: deps.source.slot,
          publication: deps.source.publication,
          tenantColumn: deps.source.tenantColumn,
          txlogTopic: topic,
          checkpointTopic: checkpointTopic(deps.kafka.topicPrefix),
          lingerMs: deps.capture.lingerMs,
          maxBatchTransactions: deps.capture.maxBatchTransactions,
          chunkBytes: deps.capture.chunkBytes,
          statusIntervalMs: deps.statusIntervalMs,
          idleCheckpointMs: deps.capture.idleCheckpointMs,
          recordGap,
          failpoint: deps.failpoint,
          kafka,
          source,
          lookup: sourceRelationLookup(source),
          claims,
          clock,
          metrics,
          log,
        });
        if (stopping) {
          // stop() came while this session was starting: it found no session to stop.
          await session.stop();
          return;
        }
        streamedOnce = true;
        attempt = 0;
        phase = 'streaming';
        lastError = undefined;
        log.info('capture streaming');
        markStreaming?.();
        await session.done;
        return;
      } catch (raw) {
        session = undefined;
        if (stopping) return;
        const e = explainSourceError(raw, deps.source.url);
        lastError = e;
        const startupOver =
          !streamedOnce && clock.nowMs() - startedMs >= deps.capture.startupTimeoutMs;
        if (!isRetriable(e) || startupOver) {
          phase = 'failed';
          throw e;
        }
        attempt += 1;
        phase = 'restarting';
        metrics.restarts.inc();
        const delayMs = backoffDelay(attempt, RESTART_BACKOFF);
        log.warn(
          { err: e, attempt, delayMs },
          'capture session ended; restarting from the checkpoint',
        );
        await sleep(delayMs, wake.signal);
      }
    }
  };

  let markStreaming: (() => void) | undefined;
  const streaming = new Promise<void>((resolve) => {
    markStreaming = resolve;
  });

  const done = run().finally(() => {
    clearInterval(lagTimer);
    if (phase !== 'failed') phase = 'stopped';
    log.info({ phase }, 'capture stopped');
  });
  done.catch(() => undefined);

  const shutdown = async (): Promise<void> => {
    stopping = true;
    wake.abort();
    await session?.stop();
    await done.catch(() => undefined);
    await metricsServer.stop();
    await source.end();
    claimStore?.destroy();
  };
  const stoppable = service('capture', shutdown, 60_000);
  // When capture fails on its own, release what it holds (the caller still sees `done` reject).
  done.catch(() => stoppable.stop().catch(() => undefined));

  return {
    done,
    // Settles once streaming began, or with the error that kept it from starting.
    streaming: Promise.race([streaming, done]),
    metricsHost: metricsServer.host,
    metricsPort: metricsServer.port,
    metrics,
    phase: () => phase,
    stop: () => stoppable.stop(),
  };
}

async function ensureTopics(kafka: KafkaPort, config: KafkaConfig): Promise<void> {
  const admin = await kafka.admin();
  try {
    // Side by side: a topic just created takes a round of leader elections to serve.
    await Promise.all([
      admin.ensureTopic(txlogTopicSpec(config.topicPrefix, config.txlogPartitions)),
      admin.ensureTopic(checkpointTopicSpec(config.topicPrefix)),
    ]);
  } finally {
    await admin.disconnect();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
