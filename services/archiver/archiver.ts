/**
 * The archiver service: a read_committed consumer group on the transaction log that
 * archives each partition as contiguous ranges of per-tenant Avro segments on object
 * storage, recorded in the catalog (partition-lane.ts, flush.ts). Steps at start:
 *   1. check the catalog is migrated and the bucket exists (clear errors, exit at once);
 *   2. make sure the log topic exists and record its partition count in the catalog;
 *   3. join the group; each partition starts at max(committed offset, catalog end);
 *   4. flush by size as batches arrive, by age on a timer; compact on another timer.
 * Retriable failures of object storage or the catalog are retried for ever (no offset is
 * committed meanwhile); anything else stops the service with its message.
 */
import { keyringFrom } from '../../shared/archive/encryption.js';
import { recordTopicPartitions } from '../../shared/catalog/archive-topics.js';
import { requireArchiveCatalog } from '../../shared/catalog/readiness.js';
import { type Clock, systemClock } from '../../shared/clock.js';
import type {
  ArchiverConfig,
  CatalogConfig,
  EncryptionConfig,
  KafkaConfig,
  S3Config,
} from '../../shared/config/index.js';
import { BacktrackError } from '../../shared/errors.js';
import { txlogTopic, txlogTopicSpec } from '../../shared/events/index.js';
import { failedCheckOf, type HealthReason } from '../../shared/health.js';
import { createKafka, type KafkaConsumer, type KafkaPort } from '../../shared/kafka/index.js';
import { type Service, service } from '../../shared/lifecycle.js';
import type { Logger } from '../../shared/logging.js';
import { type MetricsServer, startMetricsServer } from '../../shared/metrics.js';
import { createPgPool, type PgPool } from '../../shared/pg/index.js';
import { createObjectStore, type ObjectStore } from '../../shared/s3/index.js';

import { runCompaction } from './compaction.js';
import { type ArchiverMetrics, createArchiverMetrics } from './metrics.js';
import { type LaneDeps, PartitionLane } from './partition-lane.js';

/** What the archiver needs. */
export interface ArchiverDeps {
  readonly kafka: KafkaConfig;
  readonly s3: S3Config;
  readonly catalog: CatalogConfig;
  readonly archiver: ArchiverConfig;
  readonly encryption: EncryptionConfig | undefined;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Kills the process at a named point (tests); nothing by default. */
  readonly failpoint?: (name: string) => void;
}

/** The phase the archiver is in. */
export type ArchiverPhase = 'running' | 'stopping' | 'stopped' | 'failed';

/** What /healthz answers for each phase. */
const PHASE_HEALTH: Readonly<Record<ArchiverPhase, HealthReason>> = {
  running: 'ok',
  stopping: 'stopping',
  stopped: 'stopped',
  failed: 'failed',
};

/** A running archiver. */
export interface ArchiverService extends Service {
  /** Resolves after stop(); rejects with the error that stopped the archiver. */
  readonly done: Promise<void>;
  /** Address and port of /metrics and /healthz. */
  readonly metricsHost: string;
  readonly metricsPort: number;
  readonly metrics: ArchiverMetrics;
  readonly groupId: string;
  phase(): ArchiverPhase;
}

/** How long a graceful stop keeps trying to flush what is buffered (ms). */
const DRAIN_TIMEOUT_MS = 20_000;

async function prepare(
  deps: ArchiverDeps,
  catalog: PgPool,
  store: ObjectStore,
  kafka: KafkaPort,
): Promise<number> {
  await requireArchiveCatalog(catalog, deps.catalog.url);
  if (!(await store.bucketExists())) {
    throw new BacktrackError(
      'STORAGE_NOT_FOUND',
      `bucket ${deps.s3.bucket} does not exist; create it or fix BACKTRACK_S3_BUCKET`,
      { details: { bucket: deps.s3.bucket } },
    );
  }
  const admin = await kafka.admin();
  try {
    const topic = txlogTopic(deps.kafka.topicPrefix);
    await admin.ensureTopic(txlogTopicSpec(deps.kafka.topicPrefix, deps.kafka.txlogPartitions));
    const partitions = (await admin.topicOffsets(topic)).length;
    await recordTopicPartitions(catalog, topic, partitions);
    return partitions;
  } finally {
    await admin.disconnect();
  }
}

/** Starts the archiver; resolves once it has joined the consumer group's fetch loop. */
export async function startArchiver(deps: ArchiverDeps): Promise<ArchiverService> {
  const topic = txlogTopic(deps.kafka.topicPrefix);
  const groupId = deps.archiver.groupId ?? `${deps.kafka.topicPrefix}.archiver`;
  const log = deps.log.child({ component: 'archiver', topic });
  const clock = deps.clock ?? systemClock;
  const metrics = createArchiverMetrics();
  const catalog = createPgPool(deps.catalog.url, { applicationName: 'backtrack-archiver', max: 6 });
  const store = createObjectStore(deps.s3);
  const kafka = createKafka({
    brokers: deps.kafka.brokers,
    clientId: `${deps.kafka.clientId}-archiver`,
    log,
  });
  const keyring = keyringFrom(deps.encryption);
  const abort = new AbortController();

  let partitions: number;
  let consumer: KafkaConsumer | undefined;
  try {
    partitions = await prepare(deps, catalog, store, kafka);
    consumer = await kafka.consumer({
      groupId,
      partitionsConsumedConcurrently: Math.min(partitions, 4),
      sessionTimeoutMs: deps.archiver.sessionTimeoutMs,
    });
  } catch (e) {
    await catalog.end().catch(() => undefined);
    store.destroy();
    throw e;
  }
  const group = consumer;

  let phase: ArchiverPhase = 'running';
  let fatal: unknown;
  let settle: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  done.catch(() => undefined);

  const laneDeps: LaneDeps = {
    store,
    catalog,
    commit: (t, partition, offset) => group.commit([{ topic: t, partition, offset }]),
    encryptWith: keyring.current,
    metrics,
    log,
    failpoint: deps.failpoint ?? (() => undefined),
    signal: abort.signal,
    limits: { maxBytes: deps.archiver.segmentMaxBytes, maxAgeMs: deps.archiver.segmentMaxAgeMs },
    clock,
    seek: (t, partition, offset) => group.seek(t, partition, offset),
    onFatal: (e) => fail(e),
    stopping: () => phase !== 'running',
  };
  const lanes = new Map<number, PartitionLane>();
  const laneOf = (partition: number): PartitionLane => {
    let lane = lanes.get(partition);
    if (!lane) {
      lane = new PartitionLane(laneDeps, topic, partition);
      lanes.set(partition, lane);
    }
    return lane;
  };

  group.onAssignment((assignment) => {
    // Fetching restarts from committed offsets: what was buffered is read again.
    for (const lane of lanes.values()) lane.reset();
    log.info({ assignment }, 'archiver joined the group');
  });
  group.onPositionAdvanced((advance) => {
    if (advance.topic !== topic) return;
    laneOf(advance.partition)
      .advance(advance.fromOffset, advance.nextOffset)
      .catch((e: unknown) => fail(e));
  });
  group.onCrash((e) => fail(e));

  const tickMs = Math.max(50, Math.min(1_000, Math.floor(deps.archiver.segmentMaxAgeMs / 4)));
  const ticker = setInterval(() => {
    for (const lane of lanes.values()) lane.tick().catch((e: unknown) => fail(e));
    const oldest = Math.min(...[...lanes.values()].map((l) => l.oldestBufferedAt() ?? Infinity));
    metrics.oldestBufferedSeconds.set(
      Number.isFinite(oldest) ? (clock.nowMs() - oldest) / 1000 : 0,
    );
  }, tickMs);
  ticker.unref();

  let compacting: Promise<unknown> | undefined;
  const compactor =
    deps.archiver.compactionIntervalMs > 0
      ? setInterval(() => {
          compacting ??= runCompaction({
            catalog,
            store,
            keyring,
            targetBytes: deps.archiver.compactionTargetBytes,
            graceMs: deps.archiver.compactionGraceMs,
            log,
            metrics,
          })
            .catch((e: unknown) => log.warn({ err: e }, 'compaction failed; it runs again later'))
            .finally(() => {
              compacting = undefined;
            });
        }, deps.archiver.compactionIntervalMs)
      : undefined;
  compactor?.unref();

  const metricsServer: MetricsServer = await startMetricsServer({
    registry: metrics.registry,
    host: deps.archiver.metricsHost,
    port: deps.archiver.metricsPort,
    // Generic words only: the group and the error go to the log (`detail`).
    health: () => ({
      healthy: phase === 'running',
      checks: { archiver: PHASE_HEALTH[phase], ...failedCheckOf(fatal) },
      detail: { phase, groupId, err: fatal },
    }),
    log,
  });
  log.info({ host: metricsServer.host, port: metricsServer.port }, 'archiver metrics listening');

  const shutdown = async (): Promise<void> => {
    const graceful = phase === 'running';
    if (graceful) phase = 'stopping';
    clearInterval(ticker);
    if (compactor) clearInterval(compactor);
    if (graceful) {
      // Flush what is buffered while still in the group, so its offsets can be committed.
      const drained = Promise.all([...lanes.values()].map((lane) => lane.drain()));
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS).unref());
      await Promise.race([
        drained.catch((e: unknown) =>
          log.warn({ err: e }, 'final flush failed; it is read again on restart'),
        ),
        timeout,
      ]);
    }
    abort.abort();
    await group.stop().catch(() => undefined);
    await group.disconnect().catch(() => undefined);
    await compacting;
    await metricsServer.stop();
    await catalog.end().catch(() => undefined);
    store.destroy();
    if (phase !== 'failed') phase = 'stopped';
    if (fatal === undefined) settle?.resolve();
    else settle?.reject(fatal);
    log.info({ phase }, 'archiver stopped');
  };
  const stoppable = service('archiver', shutdown, 60_000);

  function fail(e: unknown): void {
    if (phase === 'failed' || phase === 'stopped') return;
    fatal = e;
    phase = 'failed';
    log.error({ err: e }, 'archiver failed');
    stoppable.stop().catch(() => undefined);
  }

  await group.subscribe([topic], { fromBeginning: true });
  await group.run((batch, controls) => laneOf(batch.partition).accept(batch, controls));
  log.info({ groupId, partitions }, 'archiver running');

  return {
    done,
    metricsHost: metricsServer.host,
    metricsPort: metricsServer.port,
    metrics,
    groupId,
    phase: () => phase,
    stop: () => stoppable.stop(),
  };
}
