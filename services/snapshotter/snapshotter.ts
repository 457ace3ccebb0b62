/**
 * The snapshotter: holds the clients (source, catalog, Kafka, object storage) and takes
 * snapshots of one tenant (take-snapshot.ts) or of every tenant, a few at a time.
 */
import { keyringFrom } from '../../shared/archive/encryption.js';
import type { SnapshotKind } from '../../shared/catalog/base-snapshots.js';
import { requireArchiveCatalog } from '../../shared/catalog/readiness.js';
import { listTenants } from '../../shared/catalog/tenants.js';
import { type Clock, systemClock } from '../../shared/clock.js';
import type {
  CatalogConfig,
  EncryptionConfig,
  KafkaConfig,
  S3Config,
  SnapshotConfig,
  SourceConfig,
} from '../../shared/config/index.js';
import { BacktrackError, describeError } from '../../shared/errors.js';
import { txlogTopic } from '../../shared/events/index.js';
import { createKafka } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging.js';
import { createPgPool } from '../../shared/pg/index.js';
import { createObjectStore } from '../../shared/s3/index.js';
import { capturedTables } from '../../shared/source/captured-tables.js';

import { takeCensus } from './census.js';
import {
  type SnapshotContext,
  type SnapshotRequest,
  type SnapshotResult,
  takeSnapshot,
} from './take-snapshot.js';
import { RESERVED_TENANTS } from './tenant-discovery.js';

/** What the snapshotter needs. */
export interface SnapshotterDeps {
  readonly source: SourceConfig;
  readonly kafka: KafkaConfig;
  readonly s3: S3Config;
  readonly catalog: CatalogConfig;
  readonly snapshot: SnapshotConfig;
  readonly encryption: EncryptionConfig | undefined;
  readonly log: Logger;
  readonly clock?: Clock;
}

/** The outcome for one tenant of {@link Snapshotter.takeAll}. */
export type TenantSnapshotOutcome =
  | { readonly tenant: string; readonly status: 'completed'; readonly result: SnapshotResult }
  | { readonly tenant: string; readonly status: 'failed'; readonly error: unknown };

/** Takes base snapshots. */
export interface Snapshotter {
  /** Snapshots one tenant. Throws TENANT_NOT_FOUND for an id nobody knows. */
  take(request: SnapshotRequest): Promise<SnapshotResult>;
  /**
   * Takes a tenant census (census.ts), then snapshots every tenant it found or the catalog
   * knows, at most BACKTRACK_SNAPSHOT_CONCURRENCY at once; reports per tenant and never
   * stops halfway. A census that fails stops the run before any snapshot.
   */
  takeAll(
    request: Omit<SnapshotRequest, 'tenant'>,
    onOutcome?: (outcome: TenantSnapshotOutcome) => void,
  ): Promise<TenantSnapshotOutcome[]>;
  close(): Promise<void>;
}

/** Opens the clients; checks the catalog is migrated and the bucket exists. */
export async function createSnapshotter(deps: SnapshotterDeps): Promise<Snapshotter> {
  const log = deps.log.child({ component: 'snapshotter' });
  const source = createPgPool(deps.source.url, {
    applicationName: 'backtrack-snapshot',
    max: deps.snapshot.concurrency + 1,
  });
  const catalog = createPgPool(deps.catalog.url, { applicationName: 'backtrack-snapshot', max: 4 });
  const store = createObjectStore(deps.s3);
  const close = async (): Promise<void> => {
    await source.end().catch(() => undefined);
    await catalog.end().catch(() => undefined);
    store.destroy();
  };
  try {
    await requireArchiveCatalog(catalog, deps.catalog.url);
    if (!(await store.bucketExists())) {
      throw new BacktrackError(
        'STORAGE_NOT_FOUND',
        `bucket ${deps.s3.bucket} does not exist; create it or fix BACKTRACK_S3_BUCKET`,
        { details: { bucket: deps.s3.bucket } },
      );
    }
  } catch (e) {
    await close();
    throw e;
  }
  const ctx: SnapshotContext = {
    source,
    sourceConfig: deps.source,
    catalog,
    kafka: createKafka({
      brokers: deps.kafka.brokers,
      clientId: `${deps.kafka.clientId}-snapshot`,
      log,
    }),
    topic: txlogTopic(deps.kafka.topicPrefix),
    store,
    settings: deps.snapshot,
    encryptWith: keyringFrom(deps.encryption).current,
    clock: deps.clock ?? systemClock,
    log,
  };

  return {
    take: (request) => takeSnapshot(ctx, request),
    takeAll: async (request, onOutcome) => {
      const { tables } = await capturedTables(source, deps.source);
      if (tables.length === 0) {
        throw new BacktrackError(
          'SOURCE_NOT_READY',
          `no captured tables: publication ${deps.source.publication} lists none with a ${deps.source.tenantColumn} column; run \`backtrack setup\``,
        );
      }
      // The census first: the tenants it found are the ones with rows, and every tenant it
      // did not find (including any born later) is restorable from its instant on.
      const census = await takeCensus(ctx, tables, request.createdBy);
      const tenants = [
        ...new Set([...census.tenants, ...(await listTenants(catalog)).map((t) => t.tenantId)]),
      ]
        .filter((t) => !RESERVED_TENANTS.has(t) && t.length > 0)
        .sort();
      const outcomes: TenantSnapshotOutcome[] = [];
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let i = next++; i < tenants.length; i = next++) {
          const tenant = tenants[i] ?? '';
          let outcome: TenantSnapshotOutcome;
          try {
            outcome = {
              tenant,
              status: 'completed',
              result: await takeSnapshot(ctx, { ...request, tenant }),
            };
          } catch (error) {
            log.warn(
              { tenant, err: error },
              'snapshot of a tenant failed; going on with the others',
            );
            outcome = { tenant, status: 'failed', error };
          }
          outcomes.push(outcome);
          onOutcome?.(outcome);
        }
      };
      await Promise.all(
        Array.from({ length: Math.min(deps.snapshot.concurrency, tenants.length) }, worker),
      );
      return outcomes.sort((a, b) => (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0));
    },
    close,
  };
}

/** The one-line reason of a failed outcome. */
export function outcomeError(outcome: TenantSnapshotOutcome): string | undefined {
  return outcome.status === 'failed' ? describeError(outcome.error) : undefined;
}

export type { SnapshotKind };
