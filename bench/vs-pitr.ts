/**
 * `npm run bench:vs-pitr`: one tenant of a 20-tenant database back to instant T, two ways,
 * in the same run on the same machine:
 *
 *   - **without Backtrack**, what a team does today: pgBackRest point-in-time recovery of
 *     the whole cluster into a scratch data directory (`restore --type=time`), start it and
 *     let it replay WAL up to T, copy the tenant's rows out (`COPY TO`) and into a new schema
 *     of the live database (`COPY FROM`);
 *   - **with Backtrack**: `backtrack restore --tenant … --to T --target-schema …` (base
 *     snapshot + the log, one tenant).
 *
 * Both start from a full backup / `snapshot --all` taken before the same workload, restore
 * to the same T, and must give the tenant's true rows at T (checked by digest). Prints the
 * time of each step, the totals and the ratio. Asserts nothing.
 *
 * The database is a cluster of its own (initdb with archive_mode on and archive_command
 * pgBackRest's archive-push), beside the local stack's Kafka and S3Proxy. pgBackRest comes
 * from the Debian package (`apt-get install pgbackrest`). BENCH_SCALE scales the rows.
 */
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BackgroundCommands, cliEnvironment, runBacktrack } from '../infra/backtrack-process.js';
import { freePorts } from '../infra/stack/ports.js';
import { preparePostgres, startPostgres, stopPostgres } from '../infra/stack/postgres.js';
import { findToolchain } from '../infra/stack/prerequisites.js';
import { runAsPostgresOwner } from '../infra/stack/processes.js';
import { stackUp } from '../infra/stack/stack.js';
import { createPgPool, type PgPool, quoteIdent, withPgConnection } from '../shared/pg/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const n = (count: number): number => Math.max(1, Math.round(count * SCALE));
const TENANTS = 20;
const ACCOUNTS = n(5_000);
const ORDERS = n(50_000);
const UPDATES = n(10_000);
const INSERTS = n(5_000);
const DELETES = n(2_000);
const TENANT = 'tenant-07';
const TABLES = ['accounts', 'orders'] as const;
const SCHEMA = 'app';
const STANZA = 'bench';

const out = (line = ''): void => console.log(line);
const fmt = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const seconds = (ms: number): string => `${fmt(ms / 1000, 2)} s`;

function must(result: { status: number | null; stdout: string; stderr: string }, what: string) {
  if (result.status !== 0) {
    throw new Error(`${what} failed (exit ${result.status}):\n${result.stderr || result.stdout}`);
  }
  return result.stdout;
}

const TABLES_SQL = (schema: string): string => `
CREATE TABLE ${quoteIdent(schema)}.accounts (
  tenant_id text NOT NULL, id bigint NOT NULL, name text NOT NULL, plan text NOT NULL,
  PRIMARY KEY (tenant_id, id));
CREATE TABLE ${quoteIdent(schema)}.orders (
  tenant_id text NOT NULL, id bigint NOT NULL, account_id bigint NOT NULL,
  amount numeric(12,2) NOT NULL, status text NOT NULL, meta jsonb NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, account_id) REFERENCES ${quoteIdent(schema)}.accounts (tenant_id, id));`;

const tenantName = (i: number): string => `tenant-${String(i).padStart(2, '0')}`;

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 900_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The tenant's rows of each table as COPY text, sorted, hashed: what both ways must give. */
async function tenantDigest(db: PgPool, schema: string): Promise<{ rows: number; sha: string }> {
  const session = await db.connect();
  try {
    const hash = createHash('sha256');
    let rows = 0;
    for (const table of TABLES) {
      const chunks: Buffer[] = [];
      const stream = session.copyTo(
        `COPY (SELECT * FROM ${quoteIdent(schema)}.${table} WHERE tenant_id = '${TENANT}' ORDER BY id) TO STDOUT`,
      );
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks);
      rows += text.length === 0 ? 0 : text.toString('utf8').split('\n').length - 1;
      hash.update(table).update(text);
    }
    return { rows, sha: hash.digest('hex') };
  } finally {
    session.release();
  }
}

/** COPY the tenant's rows out of `from` and into new tables in schema `into` of `to`. */
async function copyTenant(from: PgPool, to: PgPool, into: string): Promise<void> {
  await to.query(`CREATE SCHEMA ${quoteIdent(into)}`);
  await to.query(TABLES_SQL(into));
  const reader = await from.connect();
  const writer = await to.connect();
  try {
    await writer.query('BEGIN');
    for (const table of TABLES) {
      const source = reader.copyTo(
        `COPY (SELECT * FROM ${quoteIdent(SCHEMA)}.${table} WHERE tenant_id = '${TENANT}') TO STDOUT`,
      );
      const sink = writer.copyFrom(`COPY ${quoteIdent(into)}.${table} FROM STDIN`);
      await new Promise<void>((resolve, reject) => {
        sink.on('finish', resolve);
        sink.on('error', reject);
        source.on('error', reject);
        source.pipe(sink);
      });
    }
    await writer.query('COMMIT');
  } finally {
    reader.release();
    writer.release();
  }
}

async function main(): Promise<void> {
  const up = await stackUp(() => undefined);
  const tools = findToolchain();
  const probe = runAsPostgresOwner('pgbackrest', ['version']);
  if (probe.status !== 0) {
    throw new Error(
      'pgBackRest is not installed: `apt-get install pgbackrest` (the Debian package), then run again',
    );
  }
  const root = mkdtempSync(join(tmpdir(), 'backtrack-bench-pitr-'));
  chmodSync(root, 0o755);
  const [port = 0, scratchPort = 0] = await freePorts(2);
  const server = startPostgres(root, tools.postgresBin, port);
  const config = join(root, 'pgbackrest.conf');
  const uid = Number(must(runAsPostgresOwner('id', ['-u']), 'id -u').trim());
  const gid = Number(must(runAsPostgresOwner('id', ['-g']), 'id -g').trim());
  for (const dir of ['repo', 'log', 'lock', 'spool', 'scratch', join('scratch', 'pg')]) {
    mkdirSync(join(root, dir), { mode: 0o700 });
    chownSync(join(root, dir), uid, gid);
  }
  writeFileSync(
    config,
    `[global]
repo1-path=${join(root, 'repo')}
log-path=${join(root, 'log')}
lock-path=${join(root, 'lock')}
spool-path=${join(root, 'spool')}
log-level-console=warn
log-level-file=info
start-fast=y
process-max=2
repo1-retention-full=1

[${STANZA}]
pg1-path=${server.dataDir}
pg1-port=${port}
pg1-socket-path=${server.dataDir}
pg1-user=postgres
`,
  );
  chmodSync(config, 0o644);
  const backrest = (args: string[], what: string): string =>
    must(
      runAsPostgresOwner('pgbackrest', [`--config=${config}`, `--stanza=${STANZA}`, ...args]),
      what,
    );
  appendFileSync(
    join(server.dataDir, 'postgresql.conf'),
    `archive_mode = on\narchive_command = 'pgbackrest --config=${config} --stanza=${STANZA} archive-push %p'\n`,
  );
  stopPostgres(tools.postgresBin, server.dataDir);
  must(
    runAsPostgresOwner(join(tools.postgresBin, 'pg_ctl'), [
      '-D',
      server.dataDir,
      '-l',
      server.logFile,
      '-w',
      'start',
    ]),
    'restart with archiving',
  );
  const version = await preparePostgres(server);
  const db = createPgPool(server.url, { applicationName: 'bench-pitr', max: 4 });
  const catalog = 'bench_catalog';
  await withPgConnection(server.url, 'bench-pitr', (c) =>
    c.query(`CREATE DATABASE ${quoteIdent(catalog)}`),
  );
  const catalogUrl = new URL(server.url);
  catalogUrl.pathname = `/${catalog}`;
  const run = `bench_pitr_${Date.now().toString(36)}`;
  const env = cliEnvironment({
    ...up.settings,
    BACKTRACK_LOG_LEVEL: 'warn',
    BACKTRACK_SOURCE_URL: server.url,
    BACKTRACK_CATALOG_URL: catalogUrl.toString(),
    BACKTRACK_CAPTURE_SCHEMAS: SCHEMA,
    BACKTRACK_CAPTURE_SLOT: run,
    BACKTRACK_CAPTURE_PUBLICATION: `${run}_pub`,
    BACKTRACK_TOPIC_PREFIX: run,
    BACKTRACK_S3_PREFIX: `bench/${run}/`,
    BACKTRACK_CAPTURE_METRICS_PORT: '0',
    BACKTRACK_ARCHIVER_METRICS_PORT: '0',
    BACKTRACK_ARCHIVER_SEGMENT_MAX_AGE_MS: '1000',
  });
  const background = new BackgroundCommands(env);
  let scratch: PgPool | undefined;
  const scratchDir = join(root, 'scratch', 'pg');
  const rowsTotal = TENANTS * (ACCOUNTS + ORDERS);
  out(
    `PITR benchmark: PostgreSQL ${version}, pgBackRest ${probe.stdout.trim().replace(/^pgBackRest /, '')}; ${TENANTS} tenants of ${fmt(ACCOUNTS + ORDERS)} rows (${fmt(rowsTotal)} rows), one tenant restored to T`,
  );
  try {
    let started = Date.now();
    await db.query(`CREATE SCHEMA ${SCHEMA}`);
    await db.query(TABLES_SQL(SCHEMA));
    for (let t = 0; t < TENANTS; t++) {
      const tenant = tenantName(t);
      await db.query(`INSERT INTO ${SCHEMA}.accounts
        SELECT '${tenant}', g, 'Account ' || g, (ARRAY['free','team','enterprise'])[1 + g % 3]
          FROM generate_series(1, ${ACCOUNTS}) g`);
      await db.query(`INSERT INTO ${SCHEMA}.orders
        SELECT '${tenant}', g, 1 + g % ${ACCOUNTS}, (g % 100000) / 100.0,
               (ARRAY['new','paid','shipped'])[1 + g % 3], jsonb_build_object('items', g % 7)
          FROM generate_series(1, ${ORDERS}) g`);
    }
    await db.query(`VACUUM ANALYZE ${SCHEMA}.accounts, ${SCHEMA}.orders`);
    out(`rows written in ${seconds(Date.now() - started)}`);

    // The two starting points, before the same workload.
    started = Date.now();
    backrest(['stanza-create'], 'pgbackrest stanza-create');
    backrest(['--type=full', 'backup'], 'pgbackrest backup');
    const backupMs = Date.now() - started;
    out(`pgBackRest full backup: ${seconds(backupMs)}`);
    await runBacktrack(env, ['migrate']);
    await runBacktrack(env, ['setup']);
    background.start('capture');
    background.start('archive');
    await waitUntil('capture to stream', async () => {
      const r = await db.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [
        run,
      ]);
      return (r.rows[0] as { active?: boolean } | undefined)?.active === true;
    });
    started = Date.now();
    await runBacktrack(env, ['snapshot', '--all']);
    const snapshotMs = Date.now() - started;
    out(`Backtrack snapshot --all: ${seconds(snapshotMs)}`);

    // The workload after both: every tenant changes, in transactions of 1,000 rows.
    started = Date.now();
    for (let t = 0; t < TENANTS; t++) {
      const tenant = tenantName(t);
      for (let from = 1; from <= UPDATES; from += 1000) {
        await db.query(
          `UPDATE ${SCHEMA}.orders SET status = 'refunded', amount = amount / 2, meta = meta || '{"refunded": true}'
            WHERE tenant_id = $1 AND id BETWEEN $2 AND $3`,
          [tenant, from, Math.min(UPDATES, from + 999)],
        );
      }
      await db.query(
        `INSERT INTO ${SCHEMA}.orders
         SELECT $1, g, 1 + g % ${ACCOUNTS}, 1.5, 'new', '{}'::jsonb
           FROM generate_series(${ORDERS + 1}, ${ORDERS + INSERTS}) g`,
        [tenant],
      );
      await db.query(
        `DELETE FROM ${SCHEMA}.orders WHERE tenant_id = $1 AND id > ${ORDERS - DELETES} AND id <= ${ORDERS}`,
        [tenant],
      );
    }
    const changes = TENANTS * (UPDATES + INSERTS + DELETES);
    out(`${fmt(changes)} changes over all tenants in ${seconds(Date.now() - started)}`);
    const at = await db.query(
      `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`,
    );
    const target = String((at.rows[0] as { t: string }).t);
    const truth = await tenantDigest(db, SCHEMA);
    // The accident, after T, and more writes of everyone.
    await db.query(`DELETE FROM ${SCHEMA}.orders WHERE tenant_id = $1`, [TENANT]);
    await db.query(`UPDATE ${SCHEMA}.orders SET status = 'late' WHERE id % 50 = 0`);
    const endLsn = String(
      (await db.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn,
    );
    // WAL up to T must be archived for the PITR; Backtrack's log must reach T.
    await db.query('SELECT pg_switch_wal()');
    await waitUntil('WAL archiving past T', async () => {
      const r = await db.query(
        `SELECT last_archived_wal IS NOT NULL AND last_archived_time >= now() - interval '1 minute'
                AND pg_walfile_name($1::pg_lsn) <= last_archived_wal AS done FROM pg_stat_archiver`,
        [endLsn],
      );
      return (r.rows[0] as { done?: boolean } | undefined)?.done === true;
    });
    await waitUntil('capture past T', async () => {
      const r = await db.query(
        `SELECT confirmed_flush_lsn >= $2::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $1`,
        [run, endLsn],
      );
      return (r.rows[0] as { done?: boolean } | undefined)?.done === true;
    });
    out(`T = ${target}; the tenant had ${fmt(truth.rows)} rows then`);
    out();

    // With Backtrack.
    const restored = `${run}_backtrack`;
    const restore = await runBacktrack(env, [
      'restore',
      '--tenant',
      TENANT,
      '--to',
      target,
      '--target-schema',
      restored,
      '--json',
    ]);
    const summary = JSON.parse(restore.stdout) as {
      durationMs: number;
      replayed: { events: number };
      phasesMs: Record<string, number>;
    };
    const backtrackDigest = await tenantDigest(db, restored);
    out(
      `Backtrack: restore of ${TENANT} into a new schema ${seconds(restore.wallMs)} (process wall; the restore itself ${seconds(summary.durationMs)}, ${fmt(summary.replayed.events)} events replayed; ${Object.entries(
        summary.phasesMs,
      )
        .map(([phase, ms]) => `${phase} ${seconds(ms)}`)
        .join(
          ', ',
        )}); rows ${backtrackDigest.sha === truth.sha ? 'equal' : 'DIFFER from'} the truth at T`,
    );

    // Without: point-in-time recovery of the cluster, then copy the tenant back.
    const pitrStarted = Date.now();
    started = Date.now();
    const pgTarget = target.replace('T', ' ').replace(/Z$/, '+00');
    backrest(
      [
        `--pg1-path=${scratchDir}`,
        '--type=time',
        `--target=${pgTarget}`,
        '--target-action=promote',
        '--archive-mode=off',
        'restore',
      ],
      'pgbackrest restore',
    );
    const restoreMs = Date.now() - started;
    started = Date.now();
    must(
      runAsPostgresOwner(join(tools.postgresBin, 'pg_ctl'), [
        '-D',
        scratchDir,
        '-l',
        join(root, 'scratch', 'postgres.log'),
        '-o',
        `-p ${scratchPort} -k ${scratchDir} -c archive_mode=off`,
        '-w',
        '-t',
        '900',
        'start',
      ]),
      'start the recovered cluster',
    );
    const scratchUrl = new URL(server.url);
    scratchUrl.port = String(scratchPort);
    scratch = createPgPool(scratchUrl.toString(), { applicationName: 'bench-pitr', max: 2 });
    const scratchPool = scratch;
    await waitUntil('recovery to reach T and promote', async () => {
      try {
        const r = await scratchPool.query('SELECT pg_is_in_recovery() AS r');
        return (r.rows[0] as { r?: boolean } | undefined)?.r === false;
      } catch {
        return false;
      }
    });
    const recoveryMs = Date.now() - started;
    started = Date.now();
    const copied = `${run}_pitr`;
    await copyTenant(scratch, db, copied);
    const copyMs = Date.now() - started;
    const pitrMs = Date.now() - pitrStarted;
    const pitrDigest = await tenantDigest(db, copied);
    out(
      `pgBackRest PITR: ${seconds(pitrMs)} (restore of the cluster ${seconds(restoreMs)}, start and WAL replay to T ${seconds(recoveryMs)}, COPY of the tenant out and in ${seconds(copyMs)}); rows ${pitrDigest.sha === truth.sha ? 'equal' : 'DIFFER from'} the truth at T`,
    );
    out();
    out(
      `ratio PITR / Backtrack: ${fmt(pitrMs / restore.wallMs, 1)}× with Backtrack's process start-up (${seconds(restore.wallMs)} against ${seconds(pitrMs)}), ${fmt(pitrMs / summary.durationMs, 1)}× without it, for one tenant of ${TENANTS}; pgBackRest's full backup took ${seconds(backupMs)}, Backtrack's snapshot --all ${seconds(snapshotMs)}`,
    );
  } finally {
    await background.stop();
    await scratch?.end().catch(() => undefined);
    runAsPostgresOwner(join(tools.postgresBin, 'pg_ctl'), [
      '-D',
      scratchDir,
      '-m',
      'immediate',
      'stop',
    ]);
    await db.end();
    stopPostgres(tools.postgresBin, server.dataDir);
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
