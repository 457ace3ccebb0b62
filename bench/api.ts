/**
 * `npm run bench:api`: requests/s and latency (p50, p99) of the control API on loopback
 * under autocannon, for
 *   - `GET /v1/restore-points` (catalog reads: the recoverable window of a tenant), and
 *   - `POST /v1/restores` with `dryRun: true` (a full restore plan and fold of a tenant:
 *     its base snapshot read from object storage, the log replayed from Kafka, the
 *     result compared with the live rows), each answered synchronously.
 * Prints numbers; asserts only that every answer was a 200.
 *
 *   1. A source table with one tenant of BENCH_ROWS rows among others, set up for
 *      capture; capture runs in this process; a base snapshot of the tenant, then
 *      BENCH_CHANGES changes after it (what a dry run replays).
 *   2. The control API (what `backtrack api` starts, no workers) on its own catalog, rate
 *      limits raised out of the way.
 *   3. autocannon against each route for BENCH_SECONDS, after a short warm-up.
 */
import autocannon from 'autocannon';
import { SignJWT } from 'jose';

import { stackUp } from '../infra/stack/stack.js';
import { applySetup, planSetup, startCapture } from '../services/capture/index.js';
import { startApiStack } from '../services/cli/api.js';
import { createSnapshotter } from '../services/snapshotter/index.js';
import { defaultMigrationsDir, migrate, readMigrations } from '../shared/catalog/migrate.js';
import {
  DEFAULT_RATE_LIMITS,
  loadConfig,
  requireSection,
  type SourceConfig,
} from '../shared/config/index.js';
import { createKafka } from '../shared/kafka/index.js';
import { silentLogger } from '../shared/logging.js';
import { createPgPool, quoteIdent, withPgConnection } from '../shared/pg/index.js';
import { createObjectStore } from '../shared/s3/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ROWS = Number(process.env.BENCH_ROWS ?? 2_000);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const TENANT = 'tenant-bench';
const SECRET = 'bench-api-secret-0123456789abcdef0123';

const out = (line = ''): void => console.log(line);
const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** One autocannon run; throws when an answer was not a 2xx. */
async function load(
  name: string,
  options: autocannon.Options,
): Promise<{ name: string; result: autocannon.Result }> {
  const result = await autocannon(options);
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${name}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return { name, result };
}

async function main(): Promise<void> {
  const up = await stackUp(() => undefined);
  const run = `bench_api_${Date.now().toString(36)}`;
  const config = loadConfig({ ...up.settings, BACKTRACK_TOPIC_PREFIX: run });
  const base = requireSection(config, 'source', 'bench');
  const source: SourceConfig = {
    ...base,
    schemas: [run],
    tables: [],
    publication: `${run}_pub`,
    slot: `${run}_slot`,
  };
  const kafka = { ...requireSection(config, 'kafka', 'bench'), txlogPartitions: 3 };
  const s3 = { ...requireSection(config, 's3', 'bench'), prefix: `bench/${run}/` };
  const catalogUrl = new URL(base.url);
  catalogUrl.pathname = `/${run}`;
  const catalog = { url: catalogUrl.toString() };
  const log = silentLogger();
  const pool = createPgPool(base.url, { applicationName: 'bench-api', max: 2 });
  out(
    `control API benchmark on the local stack (loopback): PostgreSQL ${up.state.postgres.version}, tenant of ${fmt(ROWS)} rows, ${fmt(CHANGES)} changes after its snapshot, ${SECONDS} s per route`,
  );

  await withPgConnection(base.url, 'bench-api', (db) =>
    db.query(`CREATE DATABASE ${quoteIdent(run)}`),
  );
  const catalogPool = createPgPool(catalog.url, { applicationName: 'bench-api', max: 2 });
  let capture: Awaited<ReturnType<typeof startCapture>> | undefined;
  try {
    await migrate(catalogPool, readMigrations(defaultMigrationsDir()));
    await pool.query(`CREATE SCHEMA ${quoteIdent(run)}`);
    const table = `${quoteIdent(run)}.docs`;
    await pool.query(
      `CREATE TABLE ${table} (id bigint PRIMARY KEY, tenant_id text NOT NULL, title text NOT NULL, n integer NOT NULL)`,
    );
    await pool.query(
      `INSERT INTO ${table} SELECT g, CASE WHEN g <= $1 THEN '${TENANT}' ELSE 'other-' || (g % 5) END,
              'document ' || g, 0 FROM generate_series(1, $1::bigint * 2) g`,
      [ROWS],
    );
    await applySetup(pool, await planSetup(pool, source));
    capture = await startCapture({
      source,
      kafka,
      capture: { ...config.capture, metricsPort: 0, lingerMs: 5 },
      s3: undefined,
      encryption: undefined,
      log,
    });
    await capture.streaming;
    const snapshotter = await createSnapshotter({
      source,
      kafka,
      s3,
      catalog,
      snapshot: config.snapshot,
      encryption: undefined,
      log,
    });
    await snapshotter.take({ tenant: TENANT, kind: 'full', createdBy: 'bench' });
    await snapshotter.close();
    await pool.query(
      `UPDATE ${table} SET n = n + 1, title = title || '+' WHERE tenant_id = $1 AND id <= $2`,
      [TENANT, CHANGES],
    );
    const at = await pool.query(
      `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`,
    );
    const target = String(at.rows[0]?.t);

    const stack = await startApiStack({
      source,
      catalog,
      kafka,
      s3,
      snapshot: config.snapshot,
      restore: config.restore,
      archiver: config.archiver,
      encryption: undefined,
      api: {
        ...config.api,
        host: '127.0.0.1',
        port: 0,
        jwtSecret: SECRET,
        jwksUrl: undefined,
        rateLimits: Object.fromEntries(
          Object.keys(DEFAULT_RATE_LIMITS).map((bucket) => [bucket, 1_000_000_000]),
        ),
      },
      jobs: { ...config.jobs, workerConcurrency: 0, schedulerIntervalMs: 3_600_000 },
      log,
    });
    try {
      const bearer = await new SignJWT({ role: 'operator', tenant_id: TENANT })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('bench')
        .setExpirationTime('2h')
        .sign(new TextEncoder().encode(SECRET));
      const headers = { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' };
      const restorePoints = {
        url: `${stack.api.url}/v1/restore-points`,
        headers,
        connections: 8,
      };
      const dryRun = {
        url: `${stack.api.url}/v1/restores`,
        method: 'POST' as const,
        headers,
        body: JSON.stringify({ targetTimestamp: target, inPlace: true, dryRun: true }),
        connections: 1,
      };
      // Warm-up: the first dry run waits for capture to pass the target.
      await load('warm-up', { ...restorePoints, duration: 2 });
      await load('warm-up', { ...dryRun, amount: 8 });
      const results = [
        await load('GET /v1/restore-points', { ...restorePoints, duration: SECONDS }),
        // Latency of one operator's preview, then of four at once (the machine's load).
        await load('POST /v1/restores (dryRun)', { ...dryRun, duration: SECONDS }),
        await load('POST /v1/restores (dryRun)', { ...dryRun, connections: 4, duration: SECONDS }),
      ];
      out();
      for (const { name, result } of results) {
        out(
          `${name.padEnd(28)} ${fmt(result.requests.average, 1).padStart(9)} req/s   p50 ${fmt(result.latency.p50, 1).padStart(7)} ms   p99 ${fmt(result.latency.p99, 1).padStart(7)} ms   (${fmt(result.requests.total)} requests, ${result.connections} connections, ${result.duration} s)`,
        );
      }
    } finally {
      await stack.stop();
    }
  } finally {
    await capture?.stop().catch(() => undefined);
    await withPgConnection(base.url, 'bench-api', async (db) => {
      await db
        .query(
          `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
          [source.slot],
        )
        .catch(() => undefined);
      await db.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(source.publication)}`);
      await db.query(`DROP SCHEMA IF EXISTS ${quoteIdent(run)} CASCADE`);
    }).catch(() => undefined);
    await pool.end();
    await catalogPool.end();
    const admin = await createKafka({ brokers: kafka.brokers, clientId: 'bench-api', log }).admin();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${run}.`));
    await admin.deleteTopics(topics).catch(() => undefined);
    await admin.disconnect();
    const store = createObjectStore(s3);
    const keys: string[] = [];
    for await (const object of store.list()) keys.push(object.key);
    await store.deleteMany(keys);
    store.destroy();
    await withPgConnection(base.url, 'bench-api', (db) =>
      db.query(`DROP DATABASE IF EXISTS ${quoteIdent(run)} WITH (FORCE)`),
    );
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
