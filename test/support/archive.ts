/**
 * Helpers for tests of the archive: settings for this test's catalog, bucket prefix and
 * topics; an archiver in-process or as a real `backtrack archive` process; a multi-tenant
 * workload; and reading everything the archive holds back from object storage.
 */
import { type ArchiverService, startArchiver } from '../../services/archiver/index.js';
import { keyringFrom, type Keyring } from '../../shared/archive/encryption.js';
import { decodeSegment, type SegmentRecord } from '../../shared/archive/segment-file.js';
import { archivedTo, listRanges } from '../../shared/catalog/archive-ranges.js';
import { listSegments, type Segment } from '../../shared/catalog/segments.js';
import {
  type ArchiverConfig,
  type CatalogConfig,
  type Config,
  type EncryptionConfig,
  requireSection,
  type S3Config,
} from '../../shared/config/index.js';
import { txlogTopic } from '../../shared/events/index.js';
import type { Logger } from '../../shared/logging.js';
import type { PgPool } from '../../shared/pg/index.js';
import type { ObjectStore } from '../../shared/s3/index.js';

import { captureEnvironment, kafkaConfigFor, type LoggedEvent, waitForLog } from './capture.js';
import type { CatalogFixture, KafkaFixture, S3Fixture, SourceFixture } from './fixtures.js';
import { waitFor } from './wait-for.js';

/** Archiver tuning for tests: flush within half a second, small segments, no timers beyond. */
export const TEST_ARCHIVER: ArchiverConfig = {
  groupId: undefined,
  segmentMaxBytes: 64 * 1024,
  segmentMaxAgeMs: 500,
  metricsHost: '127.0.0.1',
  metricsPort: 0,
  sessionTimeoutMs: 6_000,
  compactionIntervalMs: 0,
  compactionTargetBytes: 1024 * 1024,
  compactionGraceMs: 0,
};

/** Object storage settings under this test's key prefix. */
export function s3ConfigFor(config: Config, s3: S3Fixture): S3Config {
  return { ...requireSection(config, 's3', 'test'), prefix: s3.store.prefix };
}

/** This test's catalog database. */
export function catalogConfigFor(catalog: CatalogFixture): CatalogConfig {
  return { url: catalog.url };
}

/** What an in-process archiver of a test needs. */
export interface ArchiveSetup {
  readonly config: Config;
  readonly kafka: KafkaFixture;
  readonly s3: S3Fixture;
  readonly catalog: CatalogFixture;
  readonly log: Logger;
  readonly archiver?: Partial<ArchiverConfig>;
  readonly encryption?: EncryptionConfig;
  /** Object storage settings other than the shared stack's (a dedicated S3Proxy). */
  readonly s3Config?: S3Config;
}

/** Starts an archiver in this process for the test's topics, bucket prefix and catalog. */
export function archiveInProcess(setup: ArchiveSetup): Promise<ArchiverService> {
  return startArchiver({
    kafka: kafkaConfigFor(setup.kafka),
    s3: setup.s3Config ?? s3ConfigFor(setup.config, setup.s3),
    catalog: catalogConfigFor(setup.catalog),
    archiver: { ...TEST_ARCHIVER, ...setup.archiver },
    encryption: setup.encryption,
    log: setup.log,
  });
}

/** The environment of a `backtrack archive` process for this test. */
export function archiveEnvironment(
  source: SourceFixture,
  setup: Pick<ArchiveSetup, 'config' | 'kafka' | 's3' | 'catalog'>,
  extra: Record<string, string> = {},
): Record<string, string> {
  const s3 = s3ConfigFor(setup.config, setup.s3);
  return captureEnvironment(source, setup.kafka, {
    BACKTRACK_CATALOG_URL: setup.catalog.url,
    BACKTRACK_S3_BUCKET: s3.bucket,
    BACKTRACK_S3_ENDPOINT: s3.endpoint ?? '',
    BACKTRACK_S3_REGION: s3.region,
    BACKTRACK_S3_ACCESS_KEY_ID: s3.credentials?.accessKeyId ?? '',
    BACKTRACK_S3_SECRET_ACCESS_KEY: s3.credentials?.secretAccessKey ?? '',
    BACKTRACK_S3_FORCE_PATH_STYLE: String(s3.forcePathStyle),
    BACKTRACK_S3_PREFIX: s3.prefix,
    BACKTRACK_ARCHIVER_SEGMENT_MAX_AGE_MS: String(TEST_ARCHIVER.segmentMaxAgeMs),
    BACKTRACK_ARCHIVER_SEGMENT_MAX_BYTES: String(TEST_ARCHIVER.segmentMaxBytes),
    BACKTRACK_ARCHIVER_METRICS_PORT: '0',
    BACKTRACK_ARCHIVER_SESSION_TIMEOUT_MS: String(TEST_ARCHIVER.sessionTimeoutMs),
    BACKTRACK_ARCHIVER_COMPACTION_INTERVAL_MS: '0',
    ...extra,
  });
}

/** An archived event and where it is. */
export interface ArchivedEvent extends SegmentRecord {
  readonly partition: number;
  readonly segment: Segment;
}

/** Every event of every active segment (or of one tenant), decoded from object storage. */
export async function readArchive(
  catalog: PgPool,
  store: ObjectStore,
  keyring: Keyring = keyringFrom(undefined),
  tenant?: string,
): Promise<ArchivedEvent[]> {
  const events: ArchivedEvent[] = [];
  for (const segment of await listSegments(catalog, { tenant })) {
    const decoded = await decodeSegment(await store.get(segment.key), keyring, segment.key);
    for (const record of decoded.records) {
      events.push({ ...record, partition: segment.partition, segment });
    }
  }
  return events;
}

/** Waits until the catalog's ranges cover every offset of `logged` (per partition). */
export async function waitForArchive(
  catalog: PgPool,
  topicPrefix: string,
  logged: readonly LoggedEvent[],
  timeoutMs = 60_000,
): Promise<void> {
  const topic = txlogTopic(topicPrefix);
  const needed = new Map<number, bigint>();
  for (const { partition, offset } of logged) {
    needed.set(
      partition,
      offset + 1n > (needed.get(partition) ?? 0n) ? offset + 1n : (needed.get(partition) ?? 0n),
    );
  }
  await waitFor(
    async () => {
      for (const [partition, end] of needed) {
        const archived = await archivedTo(catalog, topic, partition);
        if (archived === undefined || archived < end) return false;
      }
      return true;
    },
    { timeoutMs, intervalMs: 200, what: 'the archive to cover every logged event' },
  );
}

/** Asserts-friendly summary of a partition's ranges: gaps and overlaps between consecutive ranges. */
export async function rangeShape(
  catalog: PgPool,
  topicPrefix: string,
  partition: number,
): Promise<{
  from: bigint | undefined;
  to: bigint | undefined;
  gaps: number;
  overlaps: number;
  ranges: number;
}> {
  const ranges = await listRanges(catalog, txlogTopic(topicPrefix), partition);
  let gaps = 0;
  let overlaps = 0;
  for (let i = 1; i < ranges.length; i++) {
    const previous = ranges[i - 1];
    const current = ranges[i];
    if (!previous || !current) continue;
    if (current.from > previous.to) gaps += 1;
    if (current.from < previous.to) overlaps += 1;
  }
  return { from: ranges[0]?.from, to: ranges.at(-1)?.to, gaps, overlaps, ranges: ranges.length };
}

/** DDL of the workload's table. */
export const DOCS_TABLE = `CREATE TABLE docs (
  id bigint PRIMARY KEY,
  tenant_id text NOT NULL,
  title text NOT NULL,
  n integer NOT NULL DEFAULT 0
)`;

/** Options of {@link runDocsWorkload}. */
export interface DocsWorkloadOptions {
  readonly tenants: readonly string[];
  readonly transactions: number;
  readonly seed?: number;
  /** First id to insert (several runs on one table use disjoint ids). */
  readonly firstId?: number;
}

/**
 * Runs a deterministic multi-tenant workload on the test schema's `docs`: transactions of
 * 1–4 inserts, updates and deletes, some touching two tenants. Returns the next free id.
 */
export async function runDocsWorkload(
  source: SourceFixture,
  options: DocsWorkloadOptions,
): Promise<number> {
  let state = options.seed ?? 7;
  const random = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  let nextId = options.firstId ?? 1;
  const live: number[] = [];
  for (let t = 0; t < options.transactions; t++) {
    const statements: string[] = [];
    const writes = 1 + Math.floor(random() * 4);
    for (let w = 0; w < writes; w++) {
      const tenant = options.tenants[Math.floor(random() * options.tenants.length)] ?? 'acme';
      const choice = random();
      if (choice < 0.55 || live.length === 0) {
        const id = nextId++;
        live.push(id);
        statements.push(
          `INSERT INTO docs VALUES (${id}, '${tenant}', 'doc ${id} of ${tenant}', 0)`,
        );
      } else if (choice < 0.85) {
        const id = live[Math.floor(random() * live.length)] ?? 1;
        statements.push(`UPDATE docs SET n = n + 1, title = title || '+' WHERE id = ${id}`);
      } else {
        const index = Math.floor(random() * live.length);
        const [id] = live.splice(index, 1);
        statements.push(`DELETE FROM docs WHERE id = ${id ?? 0}`);
      }
    }
    await source.exec(statements.join(';\n'));
  }
  return nextId;
}

/**
 * Inserts a marker row into `docs` (tenant `acme`, id `id`) and waits until the log holds it.
 * Capture writes in commit order and a `read_committed` reader sees a Kafka transaction
 * whole, so every transaction committed before the marker is then in the log too: the
 * returned events are the whole log up to it. (Counting what the log held at some moment
 * is not enough: capture may still be writing the tail of a workload.)
 */
export async function logThroughMarker(
  source: SourceFixture,
  kafka: KafkaFixture,
  id: number,
  timeoutMs = 60_000,
): Promise<LoggedEvent[]> {
  const title = `marker ${id}`;
  await source.exec(`INSERT INTO docs VALUES (${id}, 'acme', '${title}', 0)`);
  return waitForLog(
    kafka.port,
    kafka.topicPrefix,
    (events) =>
      events.some(
        (e) =>
          e.event.op === 'insert' &&
          e.event.after?.[2]?.kind === 'text' &&
          e.event.after[2].text === title,
      ),
    `the marker row ${id} in the log`,
    timeoutMs,
  );
}
