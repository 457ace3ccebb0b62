/**
 * `npm run bench:snapshot`: rows/s of a tenant snapshot beside a raw
 * `COPY (SELECT … WHERE tenant_id = …) TO STDOUT` of the same rows in the same run (the
 * baseline reads the bytes and drops them). Prints numbers and the ratio (goal ≥ 0.7);
 * asserts nothing.
 *
 *   1. A table of realistic rows: one large tenant and several others, no index on the
 *      tenant (both sides scan the same way).
 *   2. A warm-up COPY, then baseline and snapshot alternately, five rounds each; the best
 *      and the median of each are compared (the machine may be shared: both are shown).
 */
import { stackUp } from '../infra/stack/stack.js';
import { createSnapshotter } from '../services/snapshotter/index.js';
import { defaultMigrationsDir, migrate, readMigrations } from '../shared/catalog/migrate.js';
import { loadConfig, requireSection, type SourceConfig } from '../shared/config/index.js';
import { txlogTopicSpec } from '../shared/events/index.js';
import { createKafka } from '../shared/kafka/index.js';
import { silentLogger } from '../shared/logging.js';
import { createPgPool, type PgPool, quoteIdent, withPgConnection } from '../shared/pg/index.js';
import { createObjectStore } from '../shared/s3/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const OTHER_ROWS = Number(process.env.BENCH_OTHER_ROWS ?? 250_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TENANT = 'tenant-big';

const out = (line = ''): void => console.log(line);
const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Raw COPY of the tenant's rows, bytes read and dropped. */
async function rawCopy(pool: PgPool, table: string): Promise<{ seconds: number; bytes: number }> {
  const session = await pool.connect();
  try {
    const started = process.hrtime.bigint();
    let bytes = 0;
    await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const stream = session.copyTo(
      `COPY (SELECT id, tenant_id, customer, email, amount, status, created_at, tags, note FROM ${table} WHERE tenant_id = '${TENANT}') TO STDOUT`,
    );
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
    await session.query('COMMIT');
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, bytes };
  } finally {
    session.release();
  }
}

async function main(): Promise<void> {
  const up = await stackUp(() => undefined);
  const run = `bench_snapshot_${Date.now().toString(36)}`;
  const config = loadConfig({ ...up.settings, BACKTRACK_TOPIC_PREFIX: run });
  const base = requireSection(config, 'source', 'bench');
  const source: SourceConfig = { ...base, schemas: [run], publication: `${run}_pub` };
  const kafkaConfig = requireSection(config, 'kafka', 'bench');
  const s3Config = { ...requireSection(config, 's3', 'bench'), prefix: `bench/${run}/` };
  const catalogUrl = new URL(base.url);
  catalogUrl.pathname = `/${run}`;
  const pool = createPgPool(base.url, { applicationName: 'bench-snapshot', max: 2 });
  const kafka = createKafka({
    brokers: kafkaConfig.brokers,
    clientId: 'bench-snapshot',
    log: silentLogger(),
  });
  const store = createObjectStore(s3Config);
  const table = `${run}.orders`;
  out(
    `snapshot benchmark on the local stack: PostgreSQL ${up.state.postgres.version}, ${fmt(ROWS)} rows of one tenant among ${fmt(ROWS + OTHER_ROWS)}`,
  );

  await withPgConnection(base.url, 'bench-snapshot', (db) =>
    db.query(`CREATE DATABASE ${quoteIdent(run)}`),
  );
  const catalog = createPgPool(catalogUrl.toString(), {
    applicationName: 'bench-snapshot',
    max: 2,
  });
  try {
    await migrate(catalog, readMigrations(defaultMigrationsDir()));
    await pool.query(`CREATE SCHEMA ${run}`);
    await pool.query(`CREATE TABLE ${table} (
      id bigint PRIMARY KEY, tenant_id text NOT NULL, customer text NOT NULL, email text,
      amount numeric(12, 2), status text, created_at timestamptz NOT NULL, tags text[], note text)`);
    let started = Date.now();
    await pool.query(
      `INSERT INTO ${table}
       SELECT g, CASE WHEN g <= $1 THEN '${TENANT}' ELSE 'tenant-' || (g % 17) END, 'Customer ' || (g % 9973),
              'customer' || (g % 9973) || '@example.com', (g % 100000) / 100.0,
              (ARRAY['new','paid','shipped','delivered'])[1 + g % 4],
              timestamptz '2026-01-01' + g * interval '1 second', ARRAY['a' || (g % 7), 'b' || (g % 11)],
              CASE WHEN g % 3 = 0 THEN md5(g::text) END
         FROM generate_series(1, $2::bigint) g`,
      [ROWS, ROWS + OTHER_ROWS],
    );
    await pool.query(`VACUUM ANALYZE ${table}`);
    await pool.query(`CREATE PUBLICATION ${quoteIdent(source.publication)} FOR TABLE ${table}`);
    const admin = await kafka.admin();
    await admin.ensureTopic(txlogTopicSpec(run, 12));
    await admin.disconnect();
    out(`table written in ${fmt((Date.now() - started) / 1000, 1)} s`);

    const snapshotter = await createSnapshotter({
      source,
      kafka: kafkaConfig,
      s3: s3Config,
      catalog: { url: catalogUrl.toString() },
      snapshot: config.snapshot,
      encryption: config.encryption,
      log: silentLogger(),
    });
    try {
      await rawCopy(pool, table);
      const raw: number[] = [];
      const snap: number[] = [];
      let copyBytes = 0;
      let storedBytes = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const copy = await rawCopy(pool, table);
        raw.push(copy.seconds);
        copyBytes = copy.bytes;
        started = Date.now();
        const result = await snapshotter.take({ tenant: TENANT, kind: 'full', createdBy: 'bench' });
        snap.push((Date.now() - started) / 1000);
        storedBytes = result.tables[0]?.sizeBytes ?? 0;
        if (result.rows !== BigInt(ROWS))
          throw new Error(`snapshot holds ${result.rows} rows, expected ${ROWS}`);
      }
      const bestRaw = Math.min(...raw);
      const bestSnap = Math.min(...snap);
      const median = (xs: number[]): number =>
        [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
      out();
      out(
        `raw COPY … TO STDOUT (bytes dropped):  ${fmt(ROWS / bestRaw)} rows/s  (${fmt(bestRaw, 2)} s, ${fmt(copyBytes / 1024 / 1024, 1)} MiB; rounds ${raw.map((s) => fmt(s, 2)).join(', ')} s)`,
      );
      out(
        `snapshot (COPY → gzip -${config.snapshot.compressionLevel} → S3 + catalog): ${fmt(ROWS / bestSnap)} rows/s  (${fmt(bestSnap, 2)} s, ${fmt(storedBytes / 1024 / 1024, 1)} MiB stored; rounds ${snap.map((s) => fmt(s, 2)).join(', ')} s)`,
      );
      out(
        `ratio snapshot / raw COPY: ${fmt(bestRaw / bestSnap, 2)} best to best, ${fmt(median(raw) / median(snap), 2)} median to median (goal ≥ 0.7); stored ${fmt(copyBytes / storedBytes, 1)}x smaller than the COPY text`,
      );
    } finally {
      await snapshotter.close();
    }
  } finally {
    await pool
      .query(`DROP PUBLICATION IF EXISTS ${quoteIdent(source.publication)}`)
      .catch(() => undefined);
    await pool.query(`DROP SCHEMA IF EXISTS ${run} CASCADE`).catch(() => undefined);
    await pool.end();
    await catalog.end();
    const keys: string[] = [];
    for await (const object of store.list()) keys.push(object.key);
    await store.deleteMany(keys);
    store.destroy();
    const admin = await kafka.admin();
    await admin.deleteTopics([`${run}.txlog`]).catch(() => undefined);
    await admin.disconnect();
    await withPgConnection(base.url, 'bench-snapshot', (db) =>
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
