/**
 * The one configuration schema. Each key is the environment variable that sets it, so a
 * validation error names the variable, and the README's configuration reference is
 * generated from the same `.describe()` texts (see reference.ts).
 */
import { z } from 'zod';

const booleanText = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((text) => text === 'true' || text === '1' || text === 'yes');

const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// connection string');

const identifier = z
  .string()
  .regex(
    /^[a-z_][a-z0-9_]{0,62}$/,
    'must be a lower-case Postgres identifier (letters, digits, underscore; at most 63)',
  );

const commaList = (item: z.ZodType<string, string>) =>
  z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part.length > 0),
    )
    .pipe(z.array(item));

const brokerAddress = z
  .string()
  .regex(/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, 'each broker must be host:port');

/** Environment variables Backtrack reads, with defaults and constraints. */
export const configSchema = z
  .object({
    BACKTRACK_LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe('Log level of the JSON logs on stdout.'),

    BACKTRACK_SOURCE_URL: postgresUrl
      .optional()
      .describe(
        'Connection string of the source (multi-tenant) Postgres database. Needed by setup, capture, snapshot and restore. The role needs REPLICATION.',
      ),
    BACKTRACK_CATALOG_URL: postgresUrl
      .optional()
      .describe(
        "Connection string of the database holding Backtrack's own catalog (schema `backtrack`). Defaults to BACKTRACK_SOURCE_URL.",
      ),
    BACKTRACK_TENANT_COLUMN: identifier
      .default('tenant_id')
      .describe('Column that names the tenant of a row in every captured table.'),
    BACKTRACK_CAPTURE_SCHEMAS: commaList(identifier)
      .default(['public'])
      .describe(
        'Comma-separated schemas whose tables with the tenant column are captured (when BACKTRACK_CAPTURE_TABLES is empty).',
      ),
    BACKTRACK_CAPTURE_TABLES: commaList(
      z
        .string()
        .regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, 'each table must be written schema.table'),
    )
      .default([])
      .describe('Comma-separated schema.table list to capture; overrides schema discovery.'),
    BACKTRACK_CAPTURE_SLOT: identifier
      .default('backtrack_main')
      .describe('Logical replication slot of this capture instance.'),
    BACKTRACK_CAPTURE_PUBLICATION: identifier
      .default('backtrack_pub')
      .describe('Publication listing the captured tables.'),

    BACKTRACK_CAPTURE_LINGER_MS: z.coerce
      .number()
      .int()
      .min(0)
      .max(10_000)
      .default(10)
      .describe(
        'How long capture keeps a Kafka transaction open for more Postgres transactions to batch with (ms). 0 commits each one at once.',
      ),
    BACKTRACK_CAPTURE_MAX_BATCH_TRANSACTIONS: z.coerce
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(10_000)
      .describe(
        'Most Postgres transactions in one Kafka transaction. While catching up, a batch fills as the previous one commits; a small cap closes batches faster than Kafka commits them and holds the replication stream.',
      ),
    BACKTRACK_CAPTURE_CHUNK_BYTES: z.coerce
      .number()
      .int()
      .min(64 * 1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024)
      .describe(
        'Bytes of events capture holds before sending them into the open Kafka transaction: the memory bound for any transaction size.',
      ),
    BACKTRACK_CAPTURE_IDLE_CHECKPOINT_MS: z.coerce
      .number()
      .int()
      .min(0)
      .max(3_600_000)
      .default(10_000)
      .describe(
        'Least time between two checkpoints of WAL that holds nothing to capture (ms). While the captured tables are idle and others write, the slot follows the server this often, each step first checkpointed in Kafka; it bounds the WAL an idle publication retains.',
      ),
    BACKTRACK_CAPTURE_METRICS_HOST: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe(
        'Address the capture /metrics and /healthz endpoints listen on; 0.0.0.0 to serve every interface (put it behind a network policy: it has no auth).',
      ),
    BACKTRACK_CAPTURE_METRICS_PORT: z.coerce
      .number()
      .int()
      .min(0)
      .max(65_535)
      .default(9464)
      .describe(
        'Port of the capture /metrics and /healthz endpoints (0: a free port the system picks).',
      ),
    BACKTRACK_CAPTURE_STARTUP_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(0)
      .default(30_000)
      .describe(
        'How long capture retries an unreachable Postgres or Kafka at start before it gives up (ms). Once running, it retries for ever.',
      ),

    BACKTRACK_RESTORE_MEMORY_MB: z.coerce
      .number()
      .int()
      .min(16)
      .max(65_536)
      .default(256)
      .describe(
        'Memory a restore may fold rows in (MiB, estimated): past it the fold spills to disk in 64 hash buckets, each split again into 64 while too large (three levels), so it stays near this bound for tenants up to 64³ times larger.',
      ),
    BACKTRACK_RESTORE_TEMP_DIR: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Folder for the spilled fold of large restores; the system temporary folder when empty.',
      ),
    BACKTRACK_RESTORE_CAPTURE_WAIT_MS: z.coerce
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe('How long a restore to a recent instant waits for capture to have logged it (ms).'),

    BACKTRACK_KAFKA_BROKERS: commaList(brokerAddress)
      .optional()
      .describe(
        'Comma-separated Kafka bootstrap servers (host:port). Needed by capture, archive and restore.',
      ),
    BACKTRACK_KAFKA_CLIENT_ID: z
      .string()
      .min(1)
      .default('backtrack')
      .describe('Kafka client id reported to the brokers.'),
    BACKTRACK_TOPIC_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be letters, digits, dot, underscore or dash')
      .default('backtrack')
      .describe('Prefix of the Kafka topics: <prefix>.txlog, <prefix>.checkpoints.'),
    BACKTRACK_TXLOG_PARTITIONS: z.coerce
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(12)
      .describe('Partitions of the transaction-log topic when Backtrack creates it.'),

    BACKTRACK_S3_BUCKET: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name')
      .optional()
      .describe(
        'Bucket for segments, snapshots and claim checks. Needed by archive, snapshot and restore, and by capture for rows too large for a Kafka record.',
      ),
    BACKTRACK_S3_ENDPOINT: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('S3-compatible endpoint URL (S3Proxy, MinIO…); AWS S3 when empty.'),
    BACKTRACK_S3_REGION: z.string().min(1).default('us-east-1').describe('S3 region.'),
    BACKTRACK_S3_ACCESS_KEY_ID: z
      .string()
      .min(1)
      .optional()
      .describe('S3 access key id; the AWS default credential chain when empty.'),
    BACKTRACK_S3_SECRET_ACCESS_KEY: z
      .string()
      .min(1)
      .optional()
      .describe('S3 secret access key (with BACKTRACK_S3_ACCESS_KEY_ID).'),
    BACKTRACK_S3_FORCE_PATH_STYLE: booleanText
      .default(false)
      .describe('Path-style bucket addressing; true for S3Proxy and MinIO.'),
    BACKTRACK_S3_PREFIX: z
      .string()
      .regex(/^([A-Za-z0-9._-]+\/)*$/, 'must be empty or end with a slash, e.g. prod/')
      .default('')
      .describe('Key prefix under which Backtrack stores everything in the bucket.'),

    BACKTRACK_ARCHIVER_GROUP_ID: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,200}$/, 'must be letters, digits, dot, underscore or dash')
      .optional()
      .describe('Kafka consumer group of the archivers; <prefix>.archiver when empty.'),
    BACKTRACK_ARCHIVER_SEGMENT_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024 * 1024)
      .default(16 * 1024 * 1024)
      .describe(
        'Encoded bytes of one tenant buffered by the archiver that make it flush the whole partition range (a segment per tenant in it).',
      ),
    BACKTRACK_ARCHIVER_SEGMENT_MAX_AGE_MS: z.coerce
      .number()
      .int()
      .min(100)
      .max(24 * 3600 * 1000)
      .default(60_000)
      .describe(
        'Longest an event waits in the archiver before its partition range is flushed (ms): the RPO to object storage.',
      ),
    BACKTRACK_ARCHIVER_METRICS_HOST: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe(
        'Address the archiver /metrics and /healthz endpoints listen on; 0.0.0.0 to serve every interface (put it behind a network policy: it has no auth).',
      ),
    BACKTRACK_ARCHIVER_METRICS_PORT: z.coerce
      .number()
      .int()
      .min(0)
      .max(65_535)
      .default(9465)
      .describe(
        'Port of the archiver /metrics and /healthz endpoints (0: a free port the system picks).',
      ),
    BACKTRACK_ARCHIVER_SESSION_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(6_000)
      .max(300_000)
      .default(30_000)
      .describe(
        'Kafka group session timeout of the archivers (ms): how soon the partitions of a dead archiver move to another.',
      ),
    BACKTRACK_ARCHIVER_COMPACTION_INTERVAL_MS: z.coerce
      .number()
      .int()
      .min(0)
      .default(3_600_000)
      .describe(
        'How often `backtrack archive` compacts small segments (ms); 0 leaves it to `backtrack compact`.',
      ),
    BACKTRACK_ARCHIVER_COMPACTION_TARGET_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024 * 1024)
      .default(64 * 1024 * 1024)
      .describe("Size up to which compaction merges a tenant's adjacent small segments into one."),
    BACKTRACK_ARCHIVER_COMPACTION_GRACE_MS: z.coerce
      .number()
      .int()
      .min(0)
      .default(24 * 3600 * 1000)
      .describe(
        'How long the objects of compacted segments stay readable before they are deleted (ms), for restores that planned with them.',
      ),

    BACKTRACK_SNAPSHOT_COMPRESSION_LEVEL: z.coerce
      .number()
      .int()
      .min(1)
      .max(9)
      .default(1)
      .describe('gzip level of snapshot table data (1 fastest … 9 smallest).'),
    BACKTRACK_SNAPSHOT_PART_BYTES: z.coerce
      .number()
      .int()
      .min(5 * 1024 * 1024)
      .max(1024 * 1024 * 1024)
      .default(8 * 1024 * 1024)
      .describe(
        'Part size of the multipart uploads of snapshot tables: the memory a snapshot holds per table (twice this).',
      ),
    BACKTRACK_SNAPSHOT_CONCURRENCY: z.coerce
      .number()
      .int()
      .min(1)
      .max(64)
      .default(2)
      .describe('Tenants snapshotted at once by `backtrack snapshot --all`.'),
    BACKTRACK_SNAPSHOT_PRE_RESTORE_RETENTION_DAYS: z.coerce
      .number()
      .int()
      .min(1)
      .max(3650)
      .default(7)
      .describe('Days a pre_restore snapshot (taken before an in-place restore) is kept.'),

    BACKTRACK_ENCRYPTION_KEY: z
      .string()
      .refine(
        (text) => /^[A-Za-z0-9+/]+={0,2}$/.test(text) && Buffer.from(text, 'base64').length === 32,
        'must be the base64 of exactly 32 random bytes (e.g. `openssl rand -base64 32`)',
      )
      .optional()
      .describe(
        'Master key (base64 of 32 bytes) that encrypts segments, snapshots and claim checks client-side with AES-256-GCM (a data key per object, wrapped by this key). Unset: stored unencrypted.',
      ),
    BACKTRACK_ENCRYPTION_KEY_ID: z
      .string()
      .regex(
        /^[A-Za-z0-9._:-]{1,64}$/,
        'must be 1 to 64 letters, digits, dot, underscore, colon or dash',
      )
      .optional()
      .describe(
        'Name of the master key, written into each encrypted object so a wrong key is named in errors; a fingerprint of the key when empty.',
      ),

    BACKTRACK_API_HOST: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('Address the control API listens on (0.0.0.0 for every interface).'),
    BACKTRACK_API_PORT: z.coerce
      .number()
      .int()
      .min(0)
      .max(65_535)
      .default(8080)
      .describe('Port of the control API (0: a free port the system picks).'),
    BACKTRACK_API_JWT_SECRET: z
      .string()
      .min(32, 'must be at least 32 characters (HS256 needs 256 bits of secret)')
      .optional()
      .describe(
        'Shared secret that signs the bearer tokens of the control API (HS256). Set this or BACKTRACK_API_JWKS_URL.',
      ),
    BACKTRACK_API_JWKS_URL: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe(
        'URL of the JSON Web Key Set whose keys sign the bearer tokens (RS256, ES256…). Set this or BACKTRACK_API_JWT_SECRET.',
      ),
    BACKTRACK_API_JWT_ISSUER: z
      .string()
      .min(1)
      .optional()
      .describe('Required `iss` of the bearer tokens; any issuer when empty.'),
    BACKTRACK_API_JWT_AUDIENCE: z
      .string()
      .min(1)
      .optional()
      .describe('Required `aud` of the bearer tokens; any audience when empty.'),
    BACKTRACK_API_RATE_LIMITS: z
      .string()
      .regex(
        /^\s*[a-z-]+\s*=\s*\d+\s*(,\s*[a-z-]+\s*=\s*\d+\s*)*$/,
        'must be bucket=count pairs, e.g. restore=5,pitr=3',
      )
      .optional()
      .describe(
        'Requests per tenant per window of the rate-limited endpoints, overriding the defaults backup-create=10,restore=5,pitr=3,rollback=5,dr-test=20 (buckets not named keep theirs).',
      ),
    BACKTRACK_API_RATE_WINDOW_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(3600)
      .describe('Length of the fixed rate-limit windows (s).'),
    BACKTRACK_API_BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024)
      .describe('Largest request body the control API reads; larger ones are refused.'),
    BACKTRACK_API_MAX_TOKEN_LIFETIME_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(31_536_000)
      .default(86_400)
      .describe(
        'Longest life of a bearer token: one whose exp lies further than this past its iat (or past now) is refused (s).',
      ),
    BACKTRACK_API_MIN_SCHEDULE_INTERVAL_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(300)
      .describe(
        'Shortest interval between two runs of a schedule; a cron that fires more often is refused (s).',
      ),
    BACKTRACK_RETENTION_DAYS: z.coerce
      .number()
      .int()
      .min(1)
      .max(36_500)
      .default(30)
      .describe(
        'Days of history every tenant can be restored to when none of its schedules or DR plans asks for more; a backup needed to reach them is never deleted.',
      ),
    BACKTRACK_WORKER_CONCURRENCY: z.coerce
      .number()
      .int()
      .min(0)
      .max(64)
      .default(2)
      .describe(
        'Jobs one process runs at once (snapshots, restores, rollbacks, verifications, DR tests); 0 runs none.',
      ),
    BACKTRACK_WORKER_LEASE_MS: z.coerce
      .number()
      .int()
      .min(1000)
      .max(3_600_000)
      .default(60_000)
      .describe(
        'Lease of a running job, renewed by its worker every third of it: how soon another worker retries the job of a worker that died (ms).',
      ),
    BACKTRACK_WORKER_POLL_MS: z.coerce
      .number()
      .int()
      .min(10)
      .max(60_000)
      .default(1000)
      .describe('How often an idle worker looks for queued jobs (ms).'),
    BACKTRACK_SCHEDULER_INTERVAL_MS: z.coerce
      .number()
      .int()
      .min(100)
      .max(3_600_000)
      .default(5000)
      .describe(
        'How often the scheduler looks for due schedules and tries to become the leader (ms).',
      ),

    BACKTRACK_FAILPOINTS: commaList(
      z.string().regex(/^[a-z0-9.-]+(@[1-9][0-9]*)?$/, 'each failpoint must be name or name@N'),
    )
      .default([])
      .describe(
        'Testing only: comma-separated failpoints (name or name@N for the N-th hit) at which the process kills itself with SIGKILL.',
      ),
  })
  .strict();

/** The parsed environment, before it is arranged into sections. */
export type ConfigEnv = z.output<typeof configSchema>;

/** Names of every variable of the schema, in declaration order. */
export const CONFIG_VARIABLES = Object.keys(configSchema.shape) as (keyof ConfigEnv)[];
