/**
 * The control API's `Engines` port, implemented by the real engines: the restore engine
 * (restores and rollbacks, with the snapshotter taking the pre_restore snapshots), the
 * snapshotter (on-demand and scheduled backups), verify and compaction of the archiver.
 * The composition root owns their clients; `close()` ends them.
 */
import { keyringFrom } from '../../shared/archive/encryption.js';
import type {
  ArchiverConfig,
  CatalogConfig,
  EncryptionConfig,
  KafkaConfig,
  RestoreConfig,
  S3Config,
  SnapshotConfig,
  SourceConfig,
} from '../../shared/config/index.js';
import type { Logger } from '../../shared/logging.js';
import { createPgPool } from '../../shared/pg/index.js';
import { createObjectStore } from '../../shared/s3/index.js';
import { runCompaction, runVerify } from '../archiver/index.js';
import type { Engines, EngineVerifyReport } from '../control-api/index.js';
import { createRestorer } from '../restore/index.js';
import { createSnapshotter } from '../snapshotter/index.js';

/** Where the engines' servers are and how they are tuned. */
export interface EngineSettings {
  readonly source: SourceConfig;
  readonly catalog: CatalogConfig;
  readonly kafka: KafkaConfig;
  readonly s3: S3Config;
  readonly snapshot: SnapshotConfig;
  readonly restore: RestoreConfig;
  /** Compaction's target size and grace period. */
  readonly archiver: Pick<ArchiverConfig, 'compactionTargetBytes' | 'compactionGraceMs'>;
  readonly encryption: EncryptionConfig | undefined;
  readonly log: Logger;
  /** Kills the process at a named point (tests); nothing by default. */
  readonly failpoint?: (name: string) => void;
}

/** The engines and the end of their clients. */
export interface OpenEngines {
  readonly engines: Engines;
  close(): Promise<void>;
}

/** Connects every engine the control API drives. */
export async function openEngines(settings: EngineSettings): Promise<OpenEngines> {
  const { log } = settings;
  const snapshotter = await createSnapshotter({
    source: settings.source,
    kafka: settings.kafka,
    s3: settings.s3,
    catalog: settings.catalog,
    snapshot: settings.snapshot,
    encryption: settings.encryption,
    log,
  });
  const restorer = createRestorer({
    source: settings.source,
    catalog: settings.catalog,
    kafka: settings.kafka,
    s3: settings.s3,
    encryption: settings.encryption,
    log,
    takePreRestoreSnapshot: async (tenant, createdBy) =>
      (await snapshotter.take({ tenant, kind: 'pre_restore', createdBy })).id,
    captureWaitMs: settings.restore.captureWaitMs,
    memoryBytes: settings.restore.memoryBytes,
    tempDir: settings.restore.tempDir,
    failpoint: settings.failpoint,
  });
  // Verify and compaction read the catalog and the archive with clients of their own.
  const catalog = createPgPool(settings.catalog.url, {
    applicationName: 'backtrack-api-engines',
    max: 4,
  });
  const store = createObjectStore(settings.s3);
  const keyring = keyringFrom(settings.encryption);

  const engines: Engines = {
    restore: (request) => restorer.restore(request),
    rollback: (request) => restorer.rollback(request),
    snapshot: async (request) => {
      const result = await snapshotter.take({
        tenant: request.tenant,
        kind: request.kind,
        createdBy: request.createdBy,
        label: request.label,
      });
      return {
        id: result.id,
        takenAt: result.takenAt,
        rows: result.rows,
        sizeBytes: result.sizeBytes,
      };
    },
    verify: async (tenant): Promise<EngineVerifyReport> => {
      const report = await runVerify({ catalog, store, keyring, log }, { tenant });
      return {
        objects: report.objects.map((o) => ({
          kind: o.kind,
          key: o.key,
          status: o.status,
          problems: o.problems,
        })),
        gaps: report.gaps,
        ok: report.ok,
      };
    },
    compact: (tenant) =>
      runCompaction(
        {
          catalog,
          store,
          keyring,
          targetBytes: settings.archiver.compactionTargetBytes,
          graceMs: settings.archiver.compactionGraceMs,
          log,
        },
        { tenant },
      ),
  };

  return {
    engines,
    close: async () => {
      await restorer.close();
      await snapshotter.close();
      await catalog.end().catch(() => undefined);
      store.destroy();
    },
  };
}
