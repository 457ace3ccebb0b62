/**
 * The restore engine with its clients: what the CLI and the control API call. Opens
 * connections to the source, the catalog, Kafka and object storage; the pre_restore
 * snapshots come from the snapshotter the composition root passes in.
 */
import { keyringFrom } from '../../shared/archive/encryption.js';
import { type Clock, systemClock } from '../../shared/clock.js';
import type {
  CatalogConfig,
  EncryptionConfig,
  KafkaConfig,
  S3Config,
  SourceConfig,
} from '../../shared/config/index.js';
import { createKafka } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging.js';
import { createPgPool } from '../../shared/pg/index.js';
import { createObjectStore } from '../../shared/s3/index.js';

import { LogReached } from './log-reach.js';
import {
  type RestoreRequest,
  type RestoreSummary,
  type RollbackRequest,
  runRestore,
  runRollback,
} from './restore.js';

/** What the engine needs. */
export interface RestorerDeps {
  readonly source: SourceConfig;
  readonly catalog: CatalogConfig;
  readonly kafka: KafkaConfig;
  readonly s3: S3Config;
  readonly encryption: EncryptionConfig | undefined;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Takes a pre_restore snapshot of `tenant`; returns its id. */
  readonly takePreRestoreSnapshot: (tenant: string, createdBy: string) => Promise<string>;
  /** How long a restore to a recent instant waits for capture to reach it (ms). */
  readonly captureWaitMs?: number;
  /** Rows the fold holds in memory before it spills to disk (estimated bytes). */
  readonly memoryBytes?: number;
  /** Where spill files go (default: the OS temp folder). */
  readonly tempDir?: string;
  /** Kills the process at a named point (tests); nothing by default. */
  readonly failpoint?: (name: string) => void;
}

/** Restores and rollbacks. */
export interface Restorer {
  restore(request: RestoreRequest): Promise<RestoreSummary>;
  rollback(request: RollbackRequest): Promise<RestoreSummary>;
  close(): Promise<void>;
}

/** Opens the engine's clients. */
export function createRestorer(deps: RestorerDeps): Restorer {
  const source = createPgPool(deps.source.url, { applicationName: 'backtrack-restore', max: 4 });
  const catalog = createPgPool(deps.catalog.url, { applicationName: 'backtrack-restore', max: 4 });
  const store = createObjectStore(deps.s3);
  const engine = {
    source,
    catalog,
    kafka: createKafka({
      brokers: deps.kafka.brokers,
      clientId: `${deps.kafka.clientId}-restore`,
      log: deps.log,
    }),
    archive: store,
    claims: store,
    keyring: keyringFrom(deps.encryption),
    slot: deps.source.slot,
    tenantColumn: deps.source.tenantColumn,
    topicPrefix: deps.kafka.topicPrefix,
    clock: deps.clock ?? systemClock,
    log: deps.log,
    takePreRestoreSnapshot: deps.takePreRestoreSnapshot,
    captureWaitMs: deps.captureWaitMs,
    reached: new LogReached(),
    memoryBytes: deps.memoryBytes,
    tempDir: deps.tempDir,
    failpoint: deps.failpoint,
  };
  return {
    restore: (request) => runRestore(engine, request),
    rollback: (request) => runRollback(engine, request),
    close: async () => {
      await source.end().catch(() => undefined);
      await catalog.end().catch(() => undefined);
      store.destroy();
    },
  };
}
