/**
 * A restorable source for tests: the oracle's tables for a few tenants, capture running,
 * base snapshots taken, and the restore engine connected to this test's catalog, topics
 * and object-storage prefix. Also the environment for running `backtrack restore` as a
 * process against the same resources.
 */
import { createHash } from 'node:crypto';

import { type CaptureService } from '../../services/capture/index.js';
import { createRestorer, type Restorer } from '../../services/restore/index.js';
import { createSnapshotter, type Snapshotter } from '../../services/snapshotter/index.js';
import {
  type CaptureConfig,
  type Config,
  type S3Config,
  requireSection,
} from '../../shared/config/index.js';
import type { Logger } from '../../shared/logging.js';
import { oracleSchemaSql, tenantState, type TenantState } from '../oracle/workload.js';

import {
  captureEnvironment,
  captureInProcess,
  kafkaConfigFor,
  setupSource,
  sourceConfigFor,
} from './capture.js';
import type { CatalogFixture, KafkaFixture, S3Fixture, SourceFixture } from './fixtures.js';

/** What a restore test works with. */
export interface RestoreEnvironment {
  readonly capture: CaptureService;
  readonly snapshotter: Snapshotter;
  readonly restorer: Restorer;
  readonly s3: S3Config;
  /** The tenant's true rows now, per table. */
  state(tenant: string): Promise<TenantState>;
  /** A digest of a tenant's rows, to show it untouched. */
  digest(tenant: string): Promise<string>;
  /** The server's clock now, ISO-8601 UTC with microseconds. */
  now(): Promise<string>;
  /** Environment of a `backtrack` process on the same resources. */
  processEnvironment(extra?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

/** Fixtures a restore environment is built from. */
export interface RestoreFixtures {
  readonly source: SourceFixture;
  readonly catalog: CatalogFixture;
  readonly kafka: KafkaFixture;
  readonly s3: S3Fixture;
  readonly config: Config;
  readonly log: Logger;
}

/**
 * Creates the oracle's tables (or those of `schemaSql`), sets the source up, starts capture
 * and the engine.
 */
export async function restoreEnvironment(
  f: RestoreFixtures,
  schemaSql: string = oracleSchemaSql(f.source.schema),
  options: { readonly capture?: Partial<CaptureConfig>; readonly captureWaitMs?: number } = {},
): Promise<RestoreEnvironment> {
  await f.source.pool.query(schemaSql);
  await setupSource(f.source);
  const s3 = { ...requireSection(f.config, 's3', 'test'), prefix: f.s3.store.prefix };
  const kafka = kafkaConfigFor(f.kafka, 3);
  const source = sourceConfigFor(f.source);
  const capture = await captureInProcess(f.source, f.kafka, f.log, {
    partitions: 3,
    capture: options.capture,
  });
  const snapshotter = await createSnapshotter({
    source,
    kafka,
    s3,
    catalog: { url: f.catalog.url },
    snapshot: f.config.snapshot,
    encryption: undefined,
    log: f.log,
  });
  const restorer = createRestorer({
    source,
    catalog: { url: f.catalog.url },
    kafka,
    s3,
    encryption: undefined,
    log: f.log,
    takePreRestoreSnapshot: async (tenant, createdBy) =>
      (await snapshotter.take({ tenant, kind: 'pre_restore', createdBy })).id,
    captureWaitMs: options.captureWaitMs,
  });
  const withSession = async <T>(
    work: (session: Awaited<ReturnType<typeof f.source.pool.connect>>) => Promise<T>,
  ) => {
    const session = await f.source.pool.connect();
    try {
      return await work(session);
    } finally {
      session.release();
    }
  };
  return {
    capture,
    snapshotter,
    restorer,
    s3,
    state: (tenant) => withSession((session) => tenantState(session, f.source.schema, tenant)),
    digest: async (tenant) => {
      const state = await withSession((session) => tenantState(session, f.source.schema, tenant));
      return createHash('sha256').update(JSON.stringify(state)).digest('hex');
    },
    now: async () => {
      const result = await f.source.pool.query(
        `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`,
      );
      return String(result.rows[0]?.at);
    },
    processEnvironment: (extra = {}) =>
      captureEnvironment(f.source, f.kafka, {
        BACKTRACK_CATALOG_URL: f.catalog.url,
        BACKTRACK_S3_BUCKET: s3.bucket,
        BACKTRACK_S3_ENDPOINT: s3.endpoint ?? '',
        BACKTRACK_S3_REGION: s3.region,
        BACKTRACK_S3_ACCESS_KEY_ID: s3.credentials?.accessKeyId ?? '',
        BACKTRACK_S3_SECRET_ACCESS_KEY: s3.credentials?.secretAccessKey ?? '',
        BACKTRACK_S3_FORCE_PATH_STYLE: String(s3.forcePathStyle),
        BACKTRACK_S3_PREFIX: s3.prefix,
        BACKTRACK_LOG_LEVEL: 'warn',
        ...extra,
      }),
    close: async () => {
      await restorer.close();
      await snapshotter.close();
      await capture.stop();
    },
  };
}
