/**
 * Loads and arranges the configuration. The only code that reads `process.env` is the
 * caller of {@link loadConfig} in each `main.ts`; everything else receives a frozen
 * {@link Config}.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

import type { z } from 'zod';

import { BacktrackError } from '../errors.js';

import { type ConfigEnv, CONFIG_VARIABLES, configSchema } from './schema.js';

/** Variable naming an optional file of `BACKTRACK_*=value` lines; the environment wins. */
export const CONFIG_FILE_VARIABLE = 'BACKTRACK_CONFIG_FILE';

/** Where the source database is and what is captured from it. */
export interface SourceConfig {
  readonly url: string;
  readonly tenantColumn: string;
  readonly schemas: readonly string[];
  readonly tables: readonly string[];
  readonly slot: string;
  readonly publication: string;
}

/** Tuning of the capture process. */
export interface CaptureConfig {
  readonly lingerMs: number;
  readonly maxBatchTransactions: number;
  readonly chunkBytes: number;
  /** Least time between two checkpoints of idle WAL (ms). */
  readonly idleCheckpointMs: number;
  /** Address of /metrics and /healthz: 127.0.0.1 unless set (they have no auth). */
  readonly metricsHost: string;
  readonly metricsPort: number;
  readonly startupTimeoutMs: number;
}

/** Restores. */
export interface RestoreConfig {
  readonly memoryBytes: number;
  readonly tempDir: string | undefined;
  readonly captureWaitMs: number;
}

/** The catalog database. */
export interface CatalogConfig {
  readonly url: string;
}

/** The Kafka cluster and the topics of the transaction log. */
export interface KafkaConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly topicPrefix: string;
  readonly txlogPartitions: number;
}

/** The object store. */
export interface S3Config {
  readonly bucket: string;
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly credentials:
    { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
  readonly forcePathStyle: boolean;
  readonly prefix: string;
}

/** The archiver: how it buffers, flushes and compacts. */
export interface ArchiverConfig {
  /** Consumer group; `<prefix>.archiver` unless set. */
  readonly groupId: string | undefined;
  readonly segmentMaxBytes: number;
  readonly segmentMaxAgeMs: number;
  /** Address of /metrics and /healthz: 127.0.0.1 unless set (they have no auth). */
  readonly metricsHost: string;
  readonly metricsPort: number;
  /** Kafka group session timeout (ms). */
  readonly sessionTimeoutMs: number;
  /** 0: compaction runs only through `backtrack compact`. */
  readonly compactionIntervalMs: number;
  readonly compactionTargetBytes: number;
  readonly compactionGraceMs: number;
}

/** Base snapshots. */
export interface SnapshotConfig {
  /** gzip level, 1…9. */
  readonly compressionLevel: number;
  readonly partBytes: number;
  readonly concurrency: number;
  readonly preRestoreRetentionDays: number;
}

/** The control API: where it listens, how it authenticates, its rate limits. */
export interface ApiConfig {
  readonly host: string;
  readonly port: number;
  /** HS256 secret of the bearer tokens, or undefined when a JWKS signs them. */
  readonly jwtSecret: string | undefined;
  readonly jwksUrl: string | undefined;
  readonly jwtIssuer: string | undefined;
  readonly jwtAudience: string | undefined;
  /** Requests per tenant per window, by bucket (backup-create, restore, pitr, rollback, dr-test). */
  readonly rateLimits: Readonly<Record<string, number>>;
  readonly rateWindowSeconds: number;
  readonly bodyLimitBytes: number;
  /** Longest life of a bearer token (s): exp past iat, or past now. */
  readonly maxTokenLifetimeSeconds: number;
  /** Shortest interval between two runs of a schedule (s). */
  readonly minScheduleIntervalSeconds: number;
  /** Days every tenant stays restorable unless its schedules or DR plans ask for more. */
  readonly retentionDays: number;
}

/** Job workers and the scheduler. */
export interface JobsConfig {
  /** Jobs run at once by one process; 0 runs none. */
  readonly workerConcurrency: number;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly schedulerIntervalMs: number;
}

/** Default rate limits per tenant per window (DESIGN §2.7). */
export const DEFAULT_RATE_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  'backup-create': 10,
  restore: 5,
  pitr: 3,
  rollback: 5,
  'dr-test': 20,
});

/** Client-side encryption of stored objects (present only when a key is configured). */
export interface EncryptionConfig {
  /** The 32-byte master key. Never logged. */
  readonly masterKey: Buffer;
  /** Name written into each object; a fingerprint of the key unless set. */
  readonly keyId: string;
}

/**
 * The whole configuration. A section is present only when its required variable is set;
 * {@link requireSection} turns an absent one into an error that names the variable.
 */
export interface Config {
  readonly logLevel: ConfigEnv['BACKTRACK_LOG_LEVEL'];
  readonly source: SourceConfig | undefined;
  readonly capture: CaptureConfig;
  readonly restore: RestoreConfig;
  readonly catalog: CatalogConfig | undefined;
  readonly kafka: KafkaConfig | undefined;
  readonly s3: S3Config | undefined;
  readonly archiver: ArchiverConfig;
  readonly snapshot: SnapshotConfig;
  readonly encryption: EncryptionConfig | undefined;
  readonly api: ApiConfig;
  readonly jobs: JobsConfig;
  /** Testing only: failpoints at which the process kills itself (`name` or `name@N`). */
  readonly failpoints: readonly string[];
}

/** A section of {@link Config} that may be absent. */
export type ConfigSection = 'source' | 'catalog' | 'kafka' | 's3';

const SECTION_VARIABLE: Record<ConfigSection, { variable: string; example: string }> = {
  source: { variable: 'BACKTRACK_SOURCE_URL', example: 'postgres://user:pass@host:5432/db' },
  catalog: {
    variable: 'BACKTRACK_CATALOG_URL (or BACKTRACK_SOURCE_URL)',
    example: 'postgres://user:pass@host:5432/db',
  },
  kafka: { variable: 'BACKTRACK_KAFKA_BROKERS', example: 'host1:9092,host2:9092' },
  s3: { variable: 'BACKTRACK_S3_BUCKET', example: 'backtrack-prod' },
};

/** Edit distance, to suggest the variable a typo meant. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function suggestion(name: string): string {
  const [best] = [...CONFIG_VARIABLES]
    .map((known) => ({ known, d: distance(name, known) }))
    .sort((x, y) => x.d - y.d);
  return best && best.d <= 3 ? `; did you mean ${best.known}?` : '';
}

function formatIssues(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map(
      (name) =>
        `${name}: not a Backtrack setting${suggestion(name) || ' (see the configuration reference in the README)'}`,
    );
  }
  const [variable] = issue.path;
  return [`${String(variable ?? 'configuration')}: ${issue.message}`];
}

function readConfigFile(path: string): Record<string, string | undefined> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new BacktrackError(
      'CONFIG_INVALID',
      `${CONFIG_FILE_VARIABLE}: cannot read ${path}; point it at a file of BACKTRACK_*=value lines`,
      { cause },
    );
  }
  return parseEnv(text);
}

/**
 * Reads `BACKTRACK_*` variables from `env` (and from the file named by
 * `BACKTRACK_CONFIG_FILE`, which the environment overrides), validates them against the
 * schema and returns the frozen configuration. Throws CONFIG_INVALID listing every wrong
 * variable and why.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const filePath = env[CONFIG_FILE_VARIABLE];
  const fromFile = filePath ? readConfigFile(filePath) : {};
  const merged: Record<string, string> = {};
  const layers: Readonly<Record<string, string | undefined>>[] = [fromFile, env];
  for (const source of layers) {
    for (const [name, value] of Object.entries(source)) {
      if (!name.startsWith('BACKTRACK_') || name === CONFIG_FILE_VARIABLE) continue;
      // An empty variable counts as unset, as shells and compose files often leave them.
      if (value === undefined || value === '') continue;
      merged[name] = value;
    }
  }

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.flatMap(formatIssues);
    throw new BacktrackError('CONFIG_INVALID', `invalid configuration:\n  ${lines.join('\n  ')}`, {
      details: { issues: lines },
    });
  }
  return Object.freeze(arrange(parsed.data));
}

/** The default name of a master key: a fingerprint that identifies it without revealing it. */
function keyFingerprint(key: Buffer): string {
  return `sha256:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

function arrangeEncryption(e: ConfigEnv): EncryptionConfig | undefined {
  if (e.BACKTRACK_ENCRYPTION_KEY === undefined) {
    if (e.BACKTRACK_ENCRYPTION_KEY_ID !== undefined) {
      throw new BacktrackError(
        'CONFIG_INVALID',
        'invalid configuration:\n  BACKTRACK_ENCRYPTION_KEY_ID is set but BACKTRACK_ENCRYPTION_KEY is not: set the key too, or unset the id',
      );
    }
    return undefined;
  }
  const masterKey = Buffer.from(e.BACKTRACK_ENCRYPTION_KEY, 'base64');
  return Object.freeze({
    masterKey,
    keyId: e.BACKTRACK_ENCRYPTION_KEY_ID ?? keyFingerprint(masterKey),
  });
}

function arrangeApi(e: ConfigEnv): ApiConfig {
  if (e.BACKTRACK_API_JWT_SECRET !== undefined && e.BACKTRACK_API_JWKS_URL !== undefined) {
    throw new BacktrackError(
      'CONFIG_INVALID',
      'invalid configuration:\n  BACKTRACK_API_JWT_SECRET and BACKTRACK_API_JWKS_URL are both set: tokens are verified one way; unset one',
    );
  }
  const rateLimits: Record<string, number> = { ...DEFAULT_RATE_LIMITS };
  for (const pair of (e.BACKTRACK_API_RATE_LIMITS ?? '').split(',')) {
    const [bucket, count] = pair.split('=').map((part) => part.trim());
    if (!bucket || count === undefined) continue;
    if (!(bucket in DEFAULT_RATE_LIMITS)) {
      throw new BacktrackError(
        'CONFIG_INVALID',
        `invalid configuration:\n  BACKTRACK_API_RATE_LIMITS: unknown bucket "${bucket}"; the buckets are ${Object.keys(DEFAULT_RATE_LIMITS).join(', ')}`,
      );
    }
    rateLimits[bucket] = Number(count);
  }
  return Object.freeze({
    host: e.BACKTRACK_API_HOST,
    port: e.BACKTRACK_API_PORT,
    jwtSecret: e.BACKTRACK_API_JWT_SECRET,
    jwksUrl: e.BACKTRACK_API_JWKS_URL,
    jwtIssuer: e.BACKTRACK_API_JWT_ISSUER,
    jwtAudience: e.BACKTRACK_API_JWT_AUDIENCE,
    rateLimits: Object.freeze(rateLimits),
    rateWindowSeconds: e.BACKTRACK_API_RATE_WINDOW_SECONDS,
    bodyLimitBytes: e.BACKTRACK_API_BODY_LIMIT_BYTES,
    maxTokenLifetimeSeconds: e.BACKTRACK_API_MAX_TOKEN_LIFETIME_SECONDS,
    minScheduleIntervalSeconds: e.BACKTRACK_API_MIN_SCHEDULE_INTERVAL_SECONDS,
    retentionDays: e.BACKTRACK_RETENTION_DAYS,
  });
}

function arrange(e: ConfigEnv): Config {
  const sourceUrl = e.BACKTRACK_SOURCE_URL;
  const catalogUrl = e.BACKTRACK_CATALOG_URL ?? sourceUrl;
  if (
    (e.BACKTRACK_S3_ACCESS_KEY_ID === undefined) !==
    (e.BACKTRACK_S3_SECRET_ACCESS_KEY === undefined)
  ) {
    throw new BacktrackError(
      'CONFIG_INVALID',
      'invalid configuration:\n  BACKTRACK_S3_ACCESS_KEY_ID and BACKTRACK_S3_SECRET_ACCESS_KEY must be set together',
    );
  }
  return {
    logLevel: e.BACKTRACK_LOG_LEVEL,
    source: sourceUrl
      ? Object.freeze({
          url: sourceUrl,
          tenantColumn: e.BACKTRACK_TENANT_COLUMN,
          schemas: Object.freeze([...e.BACKTRACK_CAPTURE_SCHEMAS]),
          tables: Object.freeze([...e.BACKTRACK_CAPTURE_TABLES]),
          slot: e.BACKTRACK_CAPTURE_SLOT,
          publication: e.BACKTRACK_CAPTURE_PUBLICATION,
        })
      : undefined,
    restore: Object.freeze({
      memoryBytes: e.BACKTRACK_RESTORE_MEMORY_MB * 1024 * 1024,
      tempDir: e.BACKTRACK_RESTORE_TEMP_DIR,
      captureWaitMs: e.BACKTRACK_RESTORE_CAPTURE_WAIT_MS,
    }),
    capture: Object.freeze({
      lingerMs: e.BACKTRACK_CAPTURE_LINGER_MS,
      maxBatchTransactions: e.BACKTRACK_CAPTURE_MAX_BATCH_TRANSACTIONS,
      chunkBytes: e.BACKTRACK_CAPTURE_CHUNK_BYTES,
      idleCheckpointMs: e.BACKTRACK_CAPTURE_IDLE_CHECKPOINT_MS,
      metricsHost: e.BACKTRACK_CAPTURE_METRICS_HOST,
      metricsPort: e.BACKTRACK_CAPTURE_METRICS_PORT,
      startupTimeoutMs: e.BACKTRACK_CAPTURE_STARTUP_TIMEOUT_MS,
    }),
    catalog: catalogUrl ? Object.freeze({ url: catalogUrl }) : undefined,
    kafka: e.BACKTRACK_KAFKA_BROKERS
      ? Object.freeze({
          brokers: Object.freeze([...e.BACKTRACK_KAFKA_BROKERS]),
          clientId: e.BACKTRACK_KAFKA_CLIENT_ID,
          topicPrefix: e.BACKTRACK_TOPIC_PREFIX,
          txlogPartitions: e.BACKTRACK_TXLOG_PARTITIONS,
        })
      : undefined,
    s3: e.BACKTRACK_S3_BUCKET
      ? Object.freeze({
          bucket: e.BACKTRACK_S3_BUCKET,
          endpoint: e.BACKTRACK_S3_ENDPOINT,
          region: e.BACKTRACK_S3_REGION,
          credentials:
            e.BACKTRACK_S3_ACCESS_KEY_ID && e.BACKTRACK_S3_SECRET_ACCESS_KEY
              ? Object.freeze({
                  accessKeyId: e.BACKTRACK_S3_ACCESS_KEY_ID,
                  secretAccessKey: e.BACKTRACK_S3_SECRET_ACCESS_KEY,
                })
              : undefined,
          forcePathStyle: e.BACKTRACK_S3_FORCE_PATH_STYLE,
          prefix: e.BACKTRACK_S3_PREFIX,
        })
      : undefined,
    archiver: Object.freeze({
      groupId: e.BACKTRACK_ARCHIVER_GROUP_ID,
      segmentMaxBytes: e.BACKTRACK_ARCHIVER_SEGMENT_MAX_BYTES,
      segmentMaxAgeMs: e.BACKTRACK_ARCHIVER_SEGMENT_MAX_AGE_MS,
      metricsHost: e.BACKTRACK_ARCHIVER_METRICS_HOST,
      metricsPort: e.BACKTRACK_ARCHIVER_METRICS_PORT,
      sessionTimeoutMs: e.BACKTRACK_ARCHIVER_SESSION_TIMEOUT_MS,
      compactionIntervalMs: e.BACKTRACK_ARCHIVER_COMPACTION_INTERVAL_MS,
      compactionTargetBytes: e.BACKTRACK_ARCHIVER_COMPACTION_TARGET_BYTES,
      compactionGraceMs: e.BACKTRACK_ARCHIVER_COMPACTION_GRACE_MS,
    }),
    snapshot: Object.freeze({
      compressionLevel: e.BACKTRACK_SNAPSHOT_COMPRESSION_LEVEL,
      partBytes: e.BACKTRACK_SNAPSHOT_PART_BYTES,
      concurrency: e.BACKTRACK_SNAPSHOT_CONCURRENCY,
      preRestoreRetentionDays: e.BACKTRACK_SNAPSHOT_PRE_RESTORE_RETENTION_DAYS,
    }),
    encryption: arrangeEncryption(e),
    api: arrangeApi(e),
    jobs: Object.freeze({
      workerConcurrency: e.BACKTRACK_WORKER_CONCURRENCY,
      leaseMs: e.BACKTRACK_WORKER_LEASE_MS,
      pollMs: e.BACKTRACK_WORKER_POLL_MS,
      schedulerIntervalMs: e.BACKTRACK_SCHEDULER_INTERVAL_MS,
    }),
    failpoints: Object.freeze([...e.BACKTRACK_FAILPOINTS]),
  };
}

/**
 * Returns a section the command needs, or throws CONFIG_INVALID naming the variable to
 * set, e.g. "`backtrack capture` needs Kafka: set BACKTRACK_KAFKA_BROKERS (host1:9092,…)".
 */
export function requireSection<S extends ConfigSection>(
  config: Config,
  section: S,
  command: string,
): NonNullable<Config[S]> {
  const value = config[section];
  if (value !== undefined && value !== null) return value;
  const { variable, example } = SECTION_VARIABLE[section];
  throw new BacktrackError(
    'CONFIG_INVALID',
    `\`backtrack ${command}\` needs ${section}: set ${variable} (e.g. ${example})`,
    { details: { section, variable } },
  );
}

export { CONFIG_VARIABLES };
