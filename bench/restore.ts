/**
 * `npm run bench:restore`: a tenant whose state at T is 1,000,000 rows over three tables,
 * reached through a base snapshot plus 1,000,000 captured events, restored into a new
 * schema by `backtrack restore` in its own process. Prints the restore's time, rows/s and
 * peak resident memory, and — in the same run — the time of a plain `COPY FROM` of the same
 * final rows into identical empty tables (one transaction, FK order). Goal: the restore
 * within 1.5x of that COPY. Asserts nothing.
 *
 *   1. accounts ← orders (FK) ← order_lines (FK); 600,000 rows of the tenant (and 60,000
 *      of another) exist before the slot does, so they reach the restore by the snapshot.
 *   2. `backtrack setup`, capture and archive start, `backtrack snapshot --tenant`.
 *   3. 1,000,000 changes in transactions of 10,000 rows: 600,000 inserts, 200,000
 *      updates, 200,000 deletes; the tenant ends at 1,000,000 rows.
 *   4. Once capture and the archive hold everything, the restore; then the baseline.
 *
 * BENCH_SCALE scales every count (e.g. 0.1 for a quick run).
 */
import { BackgroundCommands, cliEnvironment, runBacktrack } from '../infra/backtrack-process.js';
import { stackUp } from '../infra/stack/stack.js';
import { createPgPool, type PgPool, quoteIdent, withPgConnection } from '../shared/pg/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const n = (count: number): number => Math.max(1, Math.round(count * SCALE));
const ACCOUNTS = n(100_000);
const ORDERS_BEFORE = n(200_000);
const LINES_BEFORE = n(300_000);
const ORDERS_ADDED = n(200_000);
const LINES_ADDED = n(400_000);
const UPDATES = n(200_000);
const DELETES = n(200_000);
const CHUNK = 10_000;
const TENANT = 'tenant-big';
const OTHER = 'tenant-other';
const TABLES = ['accounts', 'orders', 'order_lines'] as const;

const out = (line = ''): void => console.log(line);
const fmt = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const seconds = (ms: number): string => `${fmt(ms / 1000, 2)} s`;

function tablesSql(schema: string): string {
  const s = quoteIdent(schema);
  return `
CREATE TABLE ${s}.accounts (
  tenant_id text NOT NULL, id bigint NOT NULL, name text NOT NULL, plan text NOT NULL,
  created_at timestamptz NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE ${s}.orders (
  tenant_id text NOT NULL, id bigint NOT NULL, account_id bigint NOT NULL,
  amount numeric(12,2) NOT NULL, status text NOT NULL, meta jsonb NOT NULL, note text,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, account_id) REFERENCES ${s}.accounts (tenant_id, id));
CREATE TABLE ${s}.order_lines (
  tenant_id text NOT NULL, id bigint NOT NULL, order_id bigint NOT NULL, sku text NOT NULL,
  qty integer NOT NULL, price numeric(10,2) NOT NULL, PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES ${s}.orders (tenant_id, id));`;
}

/** Rows `from..to` of each kind, for `tenant`, in one statement each. */
function insertOrders(schema: string, tenant: string, from: number, to: number, accounts: number) {
  return `INSERT INTO ${quoteIdent(schema)}.orders
    SELECT '${tenant}', g, 1 + g % ${accounts}, (g % 100000) / 100.0,
           (ARRAY['new','paid','shipped'])[1 + g % 3],
           jsonb_build_object('items', g % 7, 'channel', CASE WHEN g % 2 = 0 THEN 'web' ELSE 'store' END),
           CASE WHEN g % 5 = 0 THEN 'note ' || md5(g::text) END
      FROM generate_series(${from}, ${to}) g`;
}
function insertLines(schema: string, tenant: string, from: number, to: number, orders: number) {
  return `INSERT INTO ${quoteIdent(schema)}.order_lines
    SELECT '${tenant}', g, 1 + g % ${orders}, 'SKU-' || (g % 5000), 1 + g % 9, (g % 10000) / 100.0
      FROM generate_series(${from}, ${to}) g`;
}

/** Runs `statement(from, to)` over `first..last` in transactions of CHUNK rows. */
async function inChunks(
  db: PgPool,
  first: number,
  last: number,
  statement: (from: number, to: number) => string,
): Promise<void> {
  for (let from = first; from <= last; from += CHUNK) {
    await db.query(statement(from, Math.min(last, from + CHUNK - 1)));
  }
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 900_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The tenant's rows of each table as COPY text (what the baseline loads). */
async function exportRows(db: PgPool, schema: string): Promise<Map<string, Buffer>> {
  const rows = new Map<string, Buffer>();
  const session = await db.connect();
  try {
    for (const table of TABLES) {
      const chunks: Buffer[] = [];
      const stream = session.copyTo(
        `COPY (SELECT * FROM ${quoteIdent(schema)}.${table} WHERE tenant_id = '${TENANT}') TO STDOUT`,
      );
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      rows.set(table, Buffer.concat(chunks));
    }
  } finally {
    session.release();
  }
  return rows;
}

/** Plain COPY FROM of `rows` into fresh identical tables, one transaction; its time (ms). */
async function baselineCopy(db: PgPool, schema: string, rows: Map<string, Buffer>) {
  await db.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  await db.query(tablesSql(schema));
  const session = await db.connect();
  try {
    const started = Date.now();
    await session.query('BEGIN');
    for (const table of TABLES) {
      const sink = session.copyFrom(`COPY ${quoteIdent(schema)}.${table} FROM STDIN`);
      await new Promise<void>((resolve, reject) => {
        sink.on('finish', resolve);
        sink.on('error', reject);
        sink.end(rows.get(table));
      });
    }
    await session.query('COMMIT');
    return Date.now() - started;
  } finally {
    session.release();
  }
}

async function counts(db: PgPool, schema: string, tenant: string): Promise<number[]> {
  const result: number[] = [];
  for (const table of TABLES) {
    const r = await db.query(
      `SELECT count(*)::bigint AS n FROM ${quoteIdent(schema)}.${table} WHERE tenant_id = $1`,
      [tenant],
    );
    result.push(Number((r.rows[0] as { n: string }).n));
  }
  return result;
}

async function main(): Promise<void> {
  const up = await stackUp(() => undefined);
  const run = `bench_restore_${Date.now().toString(36)}`;
  const sourceUrl = up.settings.BACKTRACK_SOURCE_URL;
  if (sourceUrl === undefined) throw new Error('the stack wrote no BACKTRACK_SOURCE_URL');
  const catalogUrl = new URL(sourceUrl);
  catalogUrl.pathname = `/${run}`;
  const env = cliEnvironment({
    ...up.settings,
    BACKTRACK_LOG_LEVEL: 'warn',
    BACKTRACK_CATALOG_URL: catalogUrl.toString(),
    BACKTRACK_CAPTURE_SCHEMAS: run,
    BACKTRACK_CAPTURE_SLOT: run,
    BACKTRACK_CAPTURE_PUBLICATION: `${run}_pub`,
    BACKTRACK_TOPIC_PREFIX: run,
    BACKTRACK_S3_PREFIX: `bench/${run}/`,
    BACKTRACK_CAPTURE_METRICS_PORT: '0',
    BACKTRACK_ARCHIVER_METRICS_PORT: '0',
    BACKTRACK_ARCHIVER_SEGMENT_MAX_AGE_MS: '2000',
  });
  const background = new BackgroundCommands(env);
  const db = createPgPool(sourceUrl, { applicationName: 'bench-restore', max: 4 });
  const restoredSchema = `${run}_restored`;
  const baselineSchema = `${run}_copy`;
  const finalRows = ACCOUNTS + ORDERS_BEFORE + ORDERS_ADDED + LINES_BEFORE + LINES_ADDED - DELETES;
  const events = ORDERS_ADDED + LINES_ADDED + UPDATES + DELETES;
  out(
    `restore benchmark on the local stack: PostgreSQL ${up.state.postgres.version}; a tenant of ${fmt(finalRows)} rows at T = snapshot of ${fmt(ACCOUNTS + ORDERS_BEFORE + LINES_BEFORE)} rows + ${fmt(events)} events`,
  );
  try {
    let started = Date.now();
    await db.query(`CREATE SCHEMA ${quoteIdent(run)}`);
    await db.query(tablesSql(run));
    for (const [tenant, share] of [
      [TENANT, 1],
      [OTHER, 0.1],
    ] as const) {
      const accounts = Math.round(ACCOUNTS * share);
      await db.query(`INSERT INTO ${quoteIdent(run)}.accounts
        SELECT '${tenant}', g, 'Account ' || g, (ARRAY['free','team','enterprise'])[1 + g % 3],
               timestamptz '2026-01-01' + g * interval '1 minute'
          FROM generate_series(1, ${accounts}) g`);
      await db.query(insertOrders(run, tenant, 1, Math.round(ORDERS_BEFORE * share), accounts));
      await db.query(
        insertLines(
          run,
          tenant,
          1,
          Math.round(LINES_BEFORE * share),
          Math.round(ORDERS_BEFORE * share),
        ),
      );
    }
    await db.query(`VACUUM ANALYZE ${TABLES.map((t) => `${quoteIdent(run)}.${t}`).join(', ')}`);
    out(`initial rows written in ${seconds(Date.now() - started)}`);

    await withPgConnection(sourceUrl, 'bench-restore', (c) =>
      c.query(`CREATE DATABASE ${quoteIdent(run)}`),
    );
    await runBacktrack(env, ['migrate']);
    await runBacktrack(env, ['setup']);
    background.start('capture');
    await waitUntil('capture to stream from its slot', async () => {
      const r = await db.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [
        run,
      ]);
      return (r.rows[0] as { active?: boolean } | undefined)?.active === true;
    });
    background.start('archive');
    started = Date.now();
    await runBacktrack(env, ['snapshot', '--tenant', TENANT]);
    out(`base snapshot taken in ${seconds(Date.now() - started)}`);

    started = Date.now();
    const orders = ORDERS_BEFORE + ORDERS_ADDED;
    await inChunks(db, ORDERS_BEFORE + 1, orders, (from, to) =>
      insertOrders(run, TENANT, from, to, ACCOUNTS),
    );
    await inChunks(db, LINES_BEFORE + 1, LINES_BEFORE + LINES_ADDED, (from, to) =>
      insertLines(run, TENANT, from, to, orders),
    );
    await inChunks(
      db,
      1,
      UPDATES,
      (from, to) => `UPDATE ${quoteIdent(run)}.orders
        SET status = 'refunded', amount = amount / 2, meta = meta || '{"refunded": true}'
        WHERE tenant_id = '${TENANT}' AND id BETWEEN ${from} AND ${to}`,
    );
    const deleteLines = (from: number, to: number): string =>
      `DELETE FROM ${quoteIdent(run)}.order_lines
        WHERE tenant_id = '${TENANT}' AND id BETWEEN ${from} AND ${to}`;
    const now = async (): Promise<string> => {
      const r = await db.query(
        `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`,
      );
      return (r.rows[0] as { t: string }).t;
    };
    // Every commit of the last chunk is after this instant: the archive is complete once
    // its newest archived commit reaches it (one tenant: one partition, archived in order).
    const lastChunkFrom = Math.floor((DELETES - 1) / CHUNK) * CHUNK + 1;
    await inChunks(db, 1, lastChunkFrom - 1, (from, to) => deleteLines(from, to));
    const lastChunkStart = await now();
    await inChunks(db, lastChunkFrom, DELETES, (from, to) => deleteLines(from, to));
    const workloadMs = Date.now() - started;
    const target = await now();
    const lsn = String((await db.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn);
    out(`${fmt(events)} changes committed in ${seconds(workloadMs)}`);

    started = Date.now();
    await waitUntil('capture to reach the end of the workload', async () => {
      const r = await db.query(
        `SELECT confirmed_flush_lsn >= $2::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $1`,
        [run, lsn],
      );
      return (r.rows[0] as { done?: boolean } | undefined)?.done === true;
    });
    await waitUntil('the archive to reach the end of the workload', async () => {
      const points = JSON.parse(
        (await runBacktrack(env, ['restore-points', '--tenant', TENANT, '--json'])).stdout,
      ) as { archivedThrough?: string | null };
      return (
        typeof points.archivedThrough === 'string' &&
        points.archivedThrough >= lastChunkStart.slice(0, 23)
      );
    });
    out(`captured and archived ${seconds(Date.now() - started)} after the last commit`);

    const restore = await runBacktrack(
      env,
      ['restore', '--tenant', TENANT, '--to', target, '--target-schema', restoredSchema, '--json'],
      process.env.BENCH_CPU_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
        : [],
    );
    const summary = JSON.parse(restore.stdout) as {
      durationMs: number;
      replayed: { events: number };
      restored: { table: string; loaded: { rows: number } }[];
      spill: { partitions: number; bytes: number } | null;
      phasesMs: Record<string, number>;
    };
    const restoredRows = summary.restored.reduce((sum, t) => sum + t.loaded.rows, 0);
    const truth = await counts(db, run, TENANT);
    const restored = await counts(db, restoredSchema, TENANT);
    if (truth.join() !== restored.join() || restoredRows !== finalRows) {
      throw new Error(`restored ${restored.join('/')} rows, the source holds ${truth.join('/')}`);
    }

    const rows = await exportRows(db, run);
    const copyMs = await baselineCopy(db, baselineSchema, rows);
    const bytes = [...rows.values()].reduce((sum, b) => sum + b.length, 0);

    out();
    out(
      `restore (plan, snapshot + ${fmt(summary.replayed.events)} events from S3, fold, COPY, verify): ${seconds(summary.durationMs)}, ${fmt(finalRows / (summary.durationMs / 1000))} rows/s; process wall ${seconds(restore.wallMs)}; peak RSS ${fmt(restore.peakRssBytes / 1024 / 1024)} MiB${summary.spill ? `; spilled ${fmt(summary.spill.bytes / 1024 / 1024)} MiB in ${summary.spill.partitions} partitions` : ''}`,
    );
    out(
      `  phases: ${Object.entries(summary.phasesMs)
        .map(([phase, ms]) => `${phase} ${seconds(ms)}`)
        .join(', ')}`,
    );
    out(
      `plain COPY FROM of the same ${fmt(finalRows)} rows (${fmt(bytes / 1024 / 1024, 1)} MiB) into identical empty tables: ${seconds(copyMs)}, ${fmt(finalRows / (copyMs / 1000))} rows/s`,
    );
    out(
      `ratio restore / COPY: ${fmt(summary.durationMs / copyMs, 2)} (goal ≤ 1.5); with process start-up ${fmt(restore.wallMs / copyMs, 2)}`,
    );
  } finally {
    await background.stop();
    for (const schema of [run, restoredSchema, baselineSchema]) {
      await db.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => undefined);
    }
    await db.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(`${run}_pub`)}`).catch(() => undefined);
    await db
      .query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
        [run],
      )
      .catch(() => undefined);
    await db.end();
    await withPgConnection(sourceUrl, 'bench-restore', (c) =>
      c.query(`DROP DATABASE IF EXISTS ${quoteIdent(run)} WITH (FORCE)`),
    ).catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
