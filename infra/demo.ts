/**
 * `make demo`: the main job of Backtrack on the local stack, from nothing, through the
 * operator CLI. A small SaaS database with four tenants is captured, archived and
 * snapshotted while a workload runs; then one tenant suffers an accident (a bad script
 * deletes its notes and zeroes its orders), the operator previews a restore to just
 * before it, restores the tenant in place, checks it against its state before the
 * accident (and the other tenants against theirs), and rolls the restore back.
 *
 * Every `backtrack …` below is the real CLI in its own process; the demo only writes the
 * workload and compares digests of rows. Run after `npm run stack:up` (infra/demo.sh).
 */
import { resolve } from 'node:path';

import { createPgPool, type PgPool, quoteIdent, withPgConnection } from '../shared/pg/index.js';

import { BackgroundCommands, cliEnvironment, runBacktrack } from './backtrack-process.js';
import { readSettings } from './stack/settings.js';

const ROOT = resolve(import.meta.dirname, '..');
const RUN = `demo_${Date.now().toString(36)}`;
const SCHEMA = 'shop';
const TENANTS = ['acme', 'globex', 'initech', 'umbrella'] as const;
const VICTIM = 'globex';
const TABLES = ['customers', 'orders', 'notes'] as const;

const say = (line = ''): void => console.log(line);
const step = (n: number, title: string): void => say(`\n== ${n}. ${title}`);
const ok = (line: string): void => say(`   ✓ ${line}`);

const settings = readSettings(resolve(ROOT, '.stack/backtrack.env'));
const sourceUrl = settings.BACKTRACK_SOURCE_URL ?? '';
const catalogUrl = (() => {
  const url = new URL(sourceUrl);
  url.pathname = `/${RUN}`;
  return url.toString();
})();

/** The environment of every `backtrack` process of this demo. */
const env = cliEnvironment({
  ...settings,
  BACKTRACK_LOG_LEVEL: 'warn',
  BACKTRACK_CATALOG_URL: catalogUrl,
  BACKTRACK_CAPTURE_SCHEMAS: SCHEMA,
  BACKTRACK_CAPTURE_SLOT: RUN,
  BACKTRACK_CAPTURE_PUBLICATION: `${RUN}_pub`,
  BACKTRACK_TOPIC_PREFIX: RUN,
  BACKTRACK_S3_PREFIX: `demo/${RUN}/`,
  BACKTRACK_CAPTURE_METRICS_PORT: '0',
  BACKTRACK_ARCHIVER_METRICS_PORT: '0',
  BACKTRACK_ARCHIVER_SEGMENT_MAX_AGE_MS: '1000',
});
const backtrack = async (...args: string[]): Promise<string> =>
  (await runBacktrack(env, args)).stdout;
const background = new BackgroundCommands(env);

function indent(text: string): void {
  for (const line of text.trimEnd().split('\n')) say(`   ${line}`);
}

const SCHEMA_SQL = `
DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE;
CREATE SCHEMA ${SCHEMA};
CREATE TABLE ${SCHEMA}.customers (
  tenant_id text NOT NULL,
  id bigint NOT NULL,
  name text NOT NULL,
  email text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE TABLE ${SCHEMA}.orders (
  tenant_id text NOT NULL,
  id bigint NOT NULL,
  customer_id bigint NOT NULL,
  total numeric(12,2) NOT NULL,
  status text NOT NULL,
  meta jsonb NOT NULL DEFAULT '{}',
  placed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES ${SCHEMA}.customers (tenant_id, id)
);
CREATE TABLE ${SCHEMA}.notes (
  tenant_id text NOT NULL,
  id bigint NOT NULL,
  order_id bigint NOT NULL,
  body text NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES ${SCHEMA}.orders (tenant_id, id) ON DELETE CASCADE
);`;

/** One workload round for a tenant: new customers and orders, updates, a delete. */
async function workloadRound(db: PgPool, tenant: string, round: number): Promise<void> {
  const session = await db.connect();
  try {
    await session.query('BEGIN');
    const base = round * 10;
    for (let i = 1; i <= 10; i += 1) {
      const id = base + i;
      await session.query(`INSERT INTO ${SCHEMA}.customers VALUES ($1, $2, $3, $4)`, [
        tenant,
        id,
        `${tenant} customer ${id}`,
        `c${id}@${tenant}.example`,
      ]);
      await session.query(
        `INSERT INTO ${SCHEMA}.orders (tenant_id, id, customer_id, total, status, meta)
         VALUES ($1, $2, $2, $3, 'open', $4)`,
        [tenant, id, (id * 7.31).toFixed(2), JSON.stringify({ items: i, gift: i % 3 === 0 })],
      );
      // A note large enough to be stored out of line (TOAST).
      await session.query(`INSERT INTO ${SCHEMA}.notes VALUES ($1, $2, $2, $3)`, [
        tenant,
        id,
        `note ${id} of ${tenant}: `.padEnd(6000, `${tenant}-${id} `),
      ]);
    }
    await session.query(
      `UPDATE ${SCHEMA}.orders SET status = 'paid', meta = meta || '{"paid": true}'
       WHERE tenant_id = $1 AND id % 4 = $2`,
      [tenant, round % 4],
    );
    if (round > 2) {
      await session.query(`DELETE FROM ${SCHEMA}.notes WHERE tenant_id = $1 AND id = $2`, [
        tenant,
        base - 15,
      ]);
    }
    await session.query('COMMIT');
  } catch (error) {
    await session.query('ROLLBACK');
    throw error;
  } finally {
    session.release();
  }
}

/** An order-independent digest of a tenant's rows, and their counts. */
async function tenantDigest(db: PgPool, tenant: string): Promise<{ digest: string; rows: string }> {
  const parts: string[] = [];
  const counts: string[] = [];
  for (const table of TABLES) {
    const result = await db.query(
      `SELECT count(*)::text AS n, coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '-') AS d
       FROM ${SCHEMA}.${table} t WHERE tenant_id = $1`,
      [tenant],
    );
    const row = result.rows[0] as { n: string; d: string } | undefined;
    parts.push(row?.d ?? '-');
    counts.push(`${row?.n ?? '0'} ${table}`);
  }
  return { digest: parts.join(':'), rows: counts.join(', ') };
}

async function digests(db: PgPool): Promise<Map<string, string>> {
  const all = new Map<string, string>();
  for (const tenant of TENANTS) all.set(tenant, (await tenantDigest(db, tenant)).digest);
  return all;
}

async function serverNow(db: PgPool): Promise<string> {
  const result = await db.query(
    `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`,
  );
  return String((result.rows[0] as { at: string }).at);
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function expectSame(what: string, actual: string | undefined, expected: string | undefined) {
  if (actual !== expected) throw new Error(`${what}: digests differ (${actual} ≠ ${expected})`);
  ok(what);
}

async function main(): Promise<void> {
  const db = createPgPool(sourceUrl, { applicationName: 'backtrack-demo', max: 4 });
  try {
    step(1, `a SaaS database: schema ${SCHEMA}, tenants ${TENANTS.join(', ')}`);
    await db.query(SCHEMA_SQL);
    for (const tenant of TENANTS) {
      for (let round = 0; round < 3; round += 1) await workloadRound(db, tenant, round);
    }
    say('   customers ← orders (FK) ← notes (FK, ~6 KB text each); orders carry a jsonb');
    for (const tenant of TENANTS) say(`   ${tenant}: ${(await tenantDigest(db, tenant)).rows}`);

    step(2, `Backtrack's catalog (database ${RUN}) and the source setup`);
    await withPgConnection(sourceUrl, 'backtrack-demo', (c) =>
      c.query(`CREATE DATABASE ${quoteIdent(RUN)}`),
    );
    indent(await backtrack('migrate'));
    indent(await backtrack('setup'));

    step(3, 'capture (Postgres → Kafka) and archive (Kafka → S3) start; base snapshots');
    background.start('capture');
    await waitUntil('capture to stream from its slot', async () => {
      const slot = await db.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [
        RUN,
      ]);
      return (slot.rows[0] as { active?: boolean } | undefined)?.active === true;
    });
    background.start('archive');
    indent(await backtrack('snapshot', '--all'));

    step(4, 'a workload: every tenant writes for a while');
    for (let round = 3; round < 9; round += 1) {
      await Promise.all(TENANTS.map((tenant) => workloadRound(db, tenant, round)));
    }
    const beforeAccident = await serverNow(db);
    const healthy = await digests(db);
    say(`   last healthy instant: ${beforeAccident}`);
    say(`   ${VICTIM}: ${(await tenantDigest(db, VICTIM)).rows}`);

    step(5, `the accident: a script meant for a test tenant runs against ${VICTIM}`);
    await db.query(`DELETE FROM ${SCHEMA}.notes WHERE tenant_id = $1`, [VICTIM]);
    await db.query(
      `UPDATE ${SCHEMA}.orders SET total = 0, status = 'void', meta = '{}' WHERE tenant_id = $1`,
      [VICTIM],
    );
    say(`   ${VICTIM}: ${(await tenantDigest(db, VICTIM)).rows}, every order voided`);
    for (const tenant of TENANTS.filter((t) => t !== VICTIM)) await workloadRound(db, tenant, 9);
    say('   the other tenants keep working');

    step(6, `what Backtrack can restore ${VICTIM} to`);
    await waitUntil('the archive to reach the accident', async () => {
      const points = JSON.parse(
        await backtrack('restore-points', '--tenant', VICTIM, '--json'),
      ) as { archivedThrough?: string | null };
      return typeof points.archivedThrough === 'string' && points.archivedThrough > beforeAccident;
    });
    indent(await backtrack('restore-points', '--tenant', VICTIM));

    step(7, `dry run: ${VICTIM} back to ${beforeAccident}, nothing written`);
    const others = await digests(db);
    const damaged = others.get(VICTIM);
    indent(
      await backtrack(
        'restore',
        '--tenant',
        VICTIM,
        '--to',
        beforeAccident,
        '--in-place',
        '--dry-run',
      ),
    );

    step(8, `in-place restore of ${VICTIM} (one transaction, pre-restore snapshot first)`);
    const restored = await backtrack(
      'restore',
      '--tenant',
      VICTIM,
      '--to',
      beforeAccident,
      '--in-place',
      '--confirm',
    );
    indent(restored);
    const snapshotId = /pre-restore snapshot (\S+):/.exec(restored)?.[1];
    if (!snapshotId) throw new Error('the restore named no pre-restore snapshot');

    step(9, 'checks');
    const after = await digests(db);
    expectSame(
      `${VICTIM} equals its state before the accident, row for row`,
      after.get(VICTIM),
      healthy.get(VICTIM),
    );
    for (const tenant of TENANTS.filter((t) => t !== VICTIM)) {
      expectSame(`${tenant} untouched by the restore`, after.get(tenant), others.get(tenant));
    }

    step(10, `rollback of the restore (from pre-restore snapshot ${snapshotId})`);
    indent(
      await backtrack('rollback', '--snapshot', snapshotId, '--confirm', '--reason', 'demo: undo'),
    );
    const rolledBack = await digests(db);
    expectSame(
      `${VICTIM} is back as it was just before the restore`,
      rolledBack.get(VICTIM),
      damaged,
    );
    for (const tenant of TENANTS.filter((t) => t !== VICTIM)) {
      expectSame(`${tenant} untouched by the rollback`, rolledBack.get(tenant), others.get(tenant));
    }

    say(`\nDone. Catalog database ${RUN}, topics ${RUN}.*, objects under demo/${RUN}/.`);
  } finally {
    await background.stop();
    await withPgConnection(sourceUrl, 'backtrack-demo', async (c) => {
      await c.query(
        `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
        [RUN],
      );
    }).catch(() => undefined);
    await db.end();
  }
}

main().catch((error: unknown) => {
  console.error(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
