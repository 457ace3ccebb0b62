/**
 * Helpers for tests that capture: make a test schema capturable with `backtrack setup`,
 * run capture in-process or as a real `backtrack capture` process, read the log back.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { REPO_ROOT } from '../../infra/stack/paths.js';
import {
  applySetup,
  type CaptureService,
  planSetup,
  startCapture,
} from '../../services/capture/index.js';
import type { CaptureConfig, KafkaConfig, SourceConfig } from '../../shared/config/index.js';
import {
  type ChangeEvent,
  checkpointTopic,
  decodeChangeEvent,
  readCheckpoint,
  txlogTopic,
} from '../../shared/events/index.js';
import type { KafkaPort } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging.js';
import { type Lsn, parseLsn } from '../../shared/lsn.js';
import { withPgConnection } from '../../shared/pg/index.js';
import { isDdlEvent } from '../../shared/source/ddl-history.js';

import type { KafkaFixture, SourceFixture } from './fixtures.js';
import { waitFor } from './wait-for.js';

/** An event as read back, with where it sits in Kafka. */
export interface LoggedEvent {
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string;
  /** When the producer built the record (CreateTime; capture sets none of its own). */
  readonly timestampMs: number;
  readonly event: ChangeEvent;
}

/** Source settings for this test's schema, slot and publication. */
export function sourceConfigFor(
  source: SourceFixture,
  overrides: Partial<SourceConfig> = {},
): SourceConfig {
  return {
    url: source.url,
    tenantColumn: 'tenant_id',
    schemas: [source.schema],
    tables: [],
    slot: source.slot,
    publication: source.publication,
    ...overrides,
  };
}

/** Kafka settings under this test's topic prefix (3 partitions: enough to spread tenants). */
export function kafkaConfigFor(kafka: KafkaFixture, partitions = 3): KafkaConfig {
  return {
    brokers: kafka.brokers,
    clientId: 'backtrack-test',
    topicPrefix: kafka.topicPrefix,
    txlogPartitions: partitions,
  };
}

/** Capture tuning for tests: short linger, ephemeral metrics port, fail fast at start. */
export const TEST_CAPTURE: CaptureConfig = {
  lingerMs: 5,
  maxBatchTransactions: 500,
  chunkBytes: 1024 * 1024,
  metricsHost: '127.0.0.1',
  metricsPort: 0,
  startupTimeoutMs: 0,
  idleCheckpointMs: 200,
};

/** Runs `backtrack setup` for the test schema; throws with its refusals when it refuses. */
export async function setupSource(
  source: SourceFixture,
  overrides: Partial<SourceConfig> = {},
): Promise<void> {
  const plan = await planSetup(source.pool, sourceConfigFor(source, overrides));
  await applySetup(source.pool, plan);
}

/** Starts capture in this process and waits until it streams. */
export async function captureInProcess(
  source: SourceFixture,
  kafka: KafkaFixture,
  log: Logger,
  options: {
    capture?: Partial<CaptureConfig>;
    partitions?: number;
    statusIntervalMs?: number;
    sourceUrl?: string;
    /** Where capture records gaps it finds (none: a gap stops it). */
    catalogUrl?: string;
  } = {},
): Promise<CaptureService> {
  const capture = await startCapture({
    source: sourceConfigFor(source, options.sourceUrl ? { url: options.sourceUrl } : {}),
    kafka: kafkaConfigFor(kafka, options.partitions),
    capture: { ...TEST_CAPTURE, ...options.capture },
    s3: undefined,
    encryption: undefined,
    catalog: options.catalogUrl ? { url: options.catalogUrl } : undefined,
    log,
    statusIntervalMs: options.statusIntervalMs,
  });
  try {
    await capture.streaming;
  } catch (e) {
    await capture.stop();
    throw e;
  }
  return capture;
}

/** The environment of a `backtrack capture` process for this test. */
export function captureEnvironment(
  source: SourceFixture,
  kafka: KafkaFixture,
  extra: Record<string, string> = {},
): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('BACKTRACK_')) base[name] = value;
  }
  return {
    ...base,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    BACKTRACK_LOG_LEVEL: 'info',
    BACKTRACK_SOURCE_URL: source.url,
    BACKTRACK_CAPTURE_SCHEMAS: source.schema,
    BACKTRACK_CAPTURE_SLOT: source.slot,
    BACKTRACK_CAPTURE_PUBLICATION: source.publication,
    BACKTRACK_KAFKA_BROKERS: kafka.brokers.join(','),
    BACKTRACK_TOPIC_PREFIX: kafka.topicPrefix,
    BACKTRACK_TXLOG_PARTITIONS: '3',
    BACKTRACK_CAPTURE_METRICS_PORT: '0',
    BACKTRACK_CAPTURE_LINGER_MS: '5',
    ...extra,
  };
}

/** A `backtrack` command running in its own process. */
export interface BacktrackProcess {
  readonly pid: number;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code, or the signal's name, once it ended. */
  readonly exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts `backtrack <args>` with node itself, so that a signal reaches the process directly. */
export function spawnBacktrack(
  args: readonly string[],
  env: Record<string, string>,
): BacktrackProcess {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'services/cli/main.ts', ...args],
    {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  if (child.pid === undefined) throw new Error('could not start backtrack');
  return {
    pid: child.pid,
    output: () => Buffer.concat(output).toString('utf8'),
    exited,
    kill: (signal) => {
      child.kill(signal);
    },
  };
}

/** Resident memory of a process in bytes (Linux), undefined once it is gone. */
export function residentBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Every committed event of the test's transaction log, per partition in offset order.
 * `schema` events (a table's column set, sent to `_all` at the first change of a table in
 * each capture session and after DDL) and the schema history's DDL records (also in `_all`)
 * are left out unless asked for: tests of row changes count rows; tests that compare the
 * archive with the log ask for them.
 */
export async function readTxlog(
  kafka: KafkaPort,
  topicPrefix: string,
  options: { readonly schemaEvents?: boolean } = {},
): Promise<LoggedEvent[]> {
  const topic = txlogTopic(topicPrefix);
  const admin = await kafka.admin();
  let partitions: { partition: number; low: bigint; high: bigint }[];
  try {
    if (!(await admin.listTopics()).includes(topic)) return [];
    partitions = await admin.topicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const events: LoggedEvent[] = [];
  for (const { partition, low, high } of partitions) {
    await kafka.readRange({ topic, partition, from: low, to: high }, (records) => {
      for (const record of records) {
        if (!record.value) continue;
        const event = decodeChangeEvent(record.value);
        if ((event.op === 'schema' || isDdlEvent(event)) && options.schemaEvents !== true) continue;
        events.push({
          partition,
          offset: record.offset,
          key: record.key?.toString() ?? '',
          timestampMs: record.timestampMs,
          event,
        });
      }
    });
  }
  return events;
}

/** Waits until the log holds events that satisfy `enough`, and returns them all. */
export async function waitForLog(
  kafka: KafkaPort,
  topicPrefix: string,
  enough: (events: LoggedEvent[]) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<LoggedEvent[]> {
  return waitFor(
    async () => {
      const events = await readTxlog(kafka, topicPrefix);
      return enough(events) ? events : undefined;
    },
    { timeoutMs, intervalMs: 250, what },
  );
}

/** The slot's confirmed_flush_lsn, as text. */
export async function confirmedFlush(url: string, slot: string): Promise<string | undefined> {
  return withPgConnection(url, 'backtrack-test', async (db) => {
    const result = await db.query(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    const lsn = result.rows[0]?.lsn;
    return typeof lsn === 'string' ? lsn : undefined;
  });
}

/** Text of a column of an event image (undefined when not a text value). */
export function textOf(
  event: ChangeEvent,
  image: 'before' | 'after',
  column: string,
): string | undefined {
  const index = event.relation.columns.findIndex((c) => c.name === column);
  const value = event[image]?.[index];
  return value?.kind === 'text' ? value.text : undefined;
}

/**
 * The slot's confirmed position, then the checkpoint's end: the first never passes the
 * second. Read in that order (both only grow), and the checkpoint given a few seconds to
 * become visible: a commit returns before the broker has written its markers, so a
 * read_committed reader may see the newest checkpoint a moment after the slot moved to it.
 */
export async function slotAndCheckpoint(
  kafka: KafkaPort,
  topicPrefix: string,
  url: string,
  slot: string,
): Promise<{ slot: Lsn; checkpoint: Lsn }> {
  const confirmed = parseLsn((await confirmedFlush(url, slot)) ?? '0/0');
  const checkpointEnd = async (): Promise<Lsn> =>
    (await readCheckpoint(kafka, checkpointTopic(topicPrefix), slot))?.commitEndLsn ??
    parseLsn('0/0');
  const checkpoint = await waitFor(
    async () => {
      const end = await checkpointEnd();
      return end >= confirmed ? end : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 250, what: 'the checkpoint to reach the slot' },
  ).catch(checkpointEnd);
  return { slot: confirmed, checkpoint };
}
