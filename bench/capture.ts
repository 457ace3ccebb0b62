/**
 * `npm run bench:capture`: capture throughput against pg_recvlogical on the same WAL, peak
 * resident memory, and commit-to-consumer latency at a fixed offered rate, on the local
 * stack. Prints numbers and ratios; asserts nothing.
 *
 *   1. Two slots are created at the same position (one for capture, one for pg_recvlogical),
 *      then a multi-tenant workload runs with neither attached: small transactions from
 *      several clients plus one large transaction.
 *   2. pg_recvlogical decodes that WAL (pgoutput, same publication) to /dev/null; timed.
 *   3. `backtrack capture` (its own process, the compiled CLI as installed: `npm run build`
 *      runs first) captures the same WAL into Kafka; timed until the checkpoint passes the
 *      last transaction; RSS and CPU time sampled throughout, and where the replication
 *      stream waited for Kafka read from capture's own metrics.
 *   4. With capture caught up, transactions are offered at a fixed rate and a read_committed
 *      consumer notes when each one becomes visible.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

import { REPO_ROOT } from '../infra/stack/paths.js';
import { freePorts } from '../infra/stack/ports.js';
import { findToolchain } from '../infra/stack/prerequisites.js';
import { stackUp } from '../infra/stack/stack.js';
import { applySetup, planSetup } from '../services/capture/index.js';
import { loadConfig, requireSection, type SourceConfig } from '../shared/config/index.js';
import { readCheckpoint } from '../shared/events/index.js';
import { checkpointTopic, decodeChangeEvent, txlogTopic } from '../shared/events/index.js';
import { createKafka } from '../shared/kafka/index.js';
import { silentLogger } from '../shared/logging.js';
import { formatLsn, type Lsn, parseLsn } from '../shared/lsn.js';
import { createPgPool, type PgPool } from '../shared/pg/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const CLIENTS = 4;
const SMALL_TRANSACTIONS = Number(process.env.BENCH_SMALL_TRANSACTIONS ?? 20_000);
const LARGE_ROWS = Number(process.env.BENCH_LARGE_ROWS ?? 200_000);
const OFFERED_RATE = Number(process.env.BENCH_RATE ?? 2_000);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 20);
const TENANTS = 20;

const out = (line = ''): void => console.log(line);
const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function walNow(pool: PgPool): Promise<Lsn> {
  const result = await pool.query('SELECT pg_current_wal_lsn()::text AS lsn');
  return parseLsn(String(result.rows[0]?.lsn));
}

/** Small transactions from several clients, then one large one. Returns the events written. */
async function workload(pool: PgPool, table: string): Promise<number> {
  let events = 0;
  let nextId = 1;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let i = client; i < SMALL_TRANSACTIONS; i += CLIENTS) {
        const rows = 1 + (i % 5);
        const first = nextId;
        nextId += rows;
        await pool.query(
          `INSERT INTO ${table} SELECT g, 'tenant-' || (g % ${TENANTS}), g % 100, md5(g::text) FROM generate_series($1::bigint, $2::bigint) g`,
          [first, first + rows - 1],
        );
        events += rows;
      }
    }),
  );
  const first = nextId;
  await pool.query(
    `INSERT INTO ${table} SELECT g, 'tenant-' || (g % ${TENANTS}), g % 100, md5(g::text) FROM generate_series($1::bigint, $2::bigint) g`,
    [first, first + LARGE_ROWS - 1],
  );
  return events + LARGE_ROWS;
}

/**
 * CPU time (user + system) the process has used so far, in seconds, by thread kind: the
 * main (JavaScript) thread, librdkafka's threads, V8's and libuv's helpers.
 */
function cpuSeconds(pid: number): Map<string, number> {
  const hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  const tasks = readdirSync(`/proc/${pid}/task`);
  const byKind = new Map<string, number>();
  for (const task of tasks) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // Fields after the command name: utime and stime are the 14th and 15th of the line.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const seconds = (Number(fields[11]) + Number(fields[12])) / hz;
    const kind =
      task === String(pid)
        ? 'main thread'
        : name.startsWith('rdk:')
          ? 'librdkafka'
          : name.startsWith('libuv')
            ? 'libuv pool'
            : 'V8 and other';
    byKind.set(kind, (byKind.get(kind) ?? 0) + seconds);
  }
  return byKind;
}

function residentBytes(pid: number): number {
  const status = spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout;
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

/** The capture's metrics page, undefined until it answers. */
async function metricsText(port: number): Promise<string | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    return await response.text();
  } catch {
    return undefined;
  }
}

/** A label-less sample of the capture's metrics page, NaN when absent. */
function sample(text: string | undefined, name: string): number {
  const value = text && new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
  return value ? Number(value) : Number.NaN;
}

/** The largest V8 heap and external (Buffer) memory seen, from capture's process metrics. */
const memoryPeaks = { heap: 0, external: 0 };

/** The capture's backtrack_capture_last_committed_lsn gauge, undefined until it answers. */
async function lastCommittedLsn(port: number): Promise<number | undefined> {
  const text = await metricsText(port);
  memoryPeaks.heap = Math.max(
    memoryPeaks.heap,
    sample(text, 'backtrack_capture_nodejs_heap_size_total_bytes') || 0,
  );
  memoryPeaks.external = Math.max(
    memoryPeaks.external,
    sample(text, 'backtrack_capture_nodejs_external_memory_bytes') || 0,
  );
  const value = sample(text, 'backtrack_capture_last_committed_lsn');
  return Number.isNaN(value) ? undefined : value;
}

/** Kafka transactions committed and their mean time from the batch's close to the commit. */
function kafkaCommits(text: string | undefined): string {
  const value = (name: string): number =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text ?? '')?.[1] ?? Number.NaN);
  const count = value('backtrack_capture_kafka_commit_seconds_count');
  const sum = value('backtrack_capture_kafka_commit_seconds_sum');
  return `${fmt(value('backtrack_capture_kafka_transactions_total'))} Kafka transactions, ${fmt((1000 * sum) / count, 1)} ms mean from a batch's close to its commit`;
}

/** Seconds the replication stream waited for Kafka, by what it waited for. */
function heldSeconds(text: string | undefined): string {
  const held = [
    ...(text ?? '').matchAll(/^backtrack_capture_stream_held_seconds_total\{on="(\w+)"\} (\S+)$/gm),
  ];
  return held.length === 0
    ? 'never'
    : held.map(([, on, seconds]) => `${fmt(Number(seconds), 2)} s on ${on}`).join(', ');
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const up = await stackUp(() => undefined);
  const settings = up.settings;
  const run = `bench_capture_${Date.now().toString(36)}`;
  const config = loadConfig({ ...settings, BACKTRACK_TOPIC_PREFIX: run });
  const sourceBase = requireSection(config, 'source', 'bench');
  const kafkaConfig = requireSection(config, 'kafka', 'bench');
  const source: SourceConfig = {
    ...sourceBase,
    schemas: [run],
    slot: `${run}_slot`,
    publication: `${run}_pub`,
  };
  const recvSlot = `${run}_recv`;
  const pool = createPgPool(source.url, { applicationName: 'bench-capture', max: CLIENTS + 2 });
  const kafka = createKafka({
    brokers: kafkaConfig.brokers,
    clientId: 'bench-capture',
    log: silentLogger(),
  });
  const table = `${run}.items`;
  const tools = findToolchain();
  const [metricsPort = 0] = await freePorts(1);

  out(
    `capture benchmark on the local stack: PostgreSQL ${up.state.postgres.version}, Kafka ${up.state.kafka.version}`,
  );
  try {
    await pool.query(`CREATE SCHEMA ${run}`);
    await pool.query(
      `CREATE TABLE ${table} (id bigint PRIMARY KEY, tenant_id text NOT NULL, qty int, note text)`,
    );
    await applySetup(pool, await planSetup(pool, source));
    await pool.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [recvSlot]);

    // 1. The workload, with nothing attached to either slot.
    let started = Date.now();
    const events = await workload(pool, table);
    await pool.query(`INSERT INTO ${table} VALUES (0, 'tenant-0', 0, 'end')`);
    const end = await walNow(pool);
    out(
      `workload: ${fmt(SMALL_TRANSACTIONS)} small transactions (${CLIENTS} clients, 1-5 rows) + 1 of ${fmt(LARGE_ROWS)} rows = ${fmt(events + 1)} events, written in ${fmt((Date.now() - started) / 1000, 1)} s`,
    );

    // 2. pg_recvlogical over the same WAL.
    started = Date.now();
    const recv = spawnSync(
      join(tools.postgresBin, 'pg_recvlogical'),
      [
        '-d',
        source.url,
        '-S',
        recvSlot,
        '--start',
        '--no-loop',
        '-o',
        'proto_version=1',
        '-o',
        `publication_names=${source.publication}`,
        '-E',
        formatLsn(end),
        '-f',
        '/dev/null',
      ],
      { encoding: 'utf8' },
    );
    if (recv.status !== 0) throw new Error(`pg_recvlogical failed: ${recv.stderr}`);
    const recvSeconds = (Date.now() - started) / 1000;

    // 3. backtrack capture over the same WAL, compiled as it is installed.
    started = Date.now();
    const build = spawnSync('npm', ['run', '--silent', 'build'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    if (build.status !== 0) throw new Error(`npm run build failed: ${build.stdout}${build.stderr}`);
    out(`compiled in ${fmt((Date.now() - started) / 1000, 1)} s (npm run build)`);
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(process.env))
      if (value !== undefined && !name.startsWith('BACKTRACK_')) env[name] = value;
    Object.assign(env, settings, {
      BACKTRACK_LOG_LEVEL: 'warn',
      BACKTRACK_TOPIC_PREFIX: run,
      BACKTRACK_CAPTURE_SCHEMAS: run,
      BACKTRACK_CAPTURE_SLOT: source.slot,
      BACKTRACK_CAPTURE_PUBLICATION: source.publication,
      BACKTRACK_CAPTURE_METRICS_PORT: String(metricsPort),
    });
    started = Date.now();
    const profile = process.env.BENCH_PROFILE
      ? [`--cpu-prof`, `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
      : [];
    const capture = spawn(process.execPath, [...profile, 'bin/backtrack.js', 'capture'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    let peak = 0;
    const sampler = setInterval(() => {
      if (capture.pid) peak = Math.max(peak, residentBytes(capture.pid));
    }, 100);
    // Capture's own gauge of the last Kafka-committed position: cheap to poll.
    // Ready: the session committed its starting checkpoint (the gauge leaves 0) and streams.
    let readyMs: number | undefined;
    for (;;) {
      const committed = await lastCommittedLsn(metricsPort);
      if (readyMs === undefined && committed !== undefined && committed > 0) readyMs = Date.now();
      if (committed !== undefined && committed >= Number(end)) break;
      await new Promise((r) => setTimeout(r, readyMs === undefined ? 10 : 50));
    }
    const startupSeconds = ((readyMs ?? started) - started) / 1000;
    const checkpoint = await readCheckpoint(kafka, checkpointTopic(run), source.slot);
    if (!checkpoint || checkpoint.commitEndLsn < end)
      throw new Error('the checkpoint in Kafka disagrees with the gauge');
    const captureSeconds = (Date.now() - started) / 1000;
    const cpuByKind = capture.pid ? cpuSeconds(capture.pid) : new Map<string, number>();
    const captureCpu = [...cpuByKind.values()].reduce((a, b) => a + b, 0);
    const caughtUp = await metricsText(metricsPort);
    const total = events + 1;
    const recvRate = total / recvSeconds;
    const captureRate = total / captureSeconds;
    const streamingRate = total / (captureSeconds - startupSeconds);
    out();
    out('                          events    seconds    events/s');
    out(
      `pg_recvlogical      ${fmt(total).padStart(12)} ${fmt(recvSeconds, 2).padStart(10)} ${fmt(recvRate).padStart(11)}`,
    );
    out(
      `backtrack capture   ${fmt(total).padStart(12)} ${fmt(captureSeconds, 2).padStart(10)} ${fmt(captureRate).padStart(11)}`,
    );
    out(
      `ratio capture / pg_recvlogical: ${fmt(captureRate / recvRate, 2)}   (goal ≥ 0.50; capture includes process start-up and Kafka commits)`,
    );
    out(
      `  of which start-up (process start → first checkpoint committed) ${fmt(startupSeconds, 2)} s; streaming alone ${fmt(streamingRate)} events/s, ratio ${fmt(streamingRate / recvRate, 2)}`,
    );
    out(
      `capture CPU: ${fmt(captureCpu, 2)} s (${fmt((captureCpu * 1e6) / total, 1)} µs per event, all threads, start-up included; ${[...cpuByKind].map(([kind, seconds]) => `${kind} ${fmt(seconds, 2)} s`).join(', ')}); machine cores: ${availableParallelism()}`,
    );
    out(`${kafkaCommits(caughtUp)}; replication stream held for Kafka: ${heldSeconds(caughtUp)}`);

    // 4. Latency at a fixed offered rate, capture caught up.
    // When each row was committed (the INSERT returned) and when the consumer saw it: a row
    // can be seen before its INSERT's reply is handled here, so both are kept and paired after.
    const committedAt = new Map<string, number>();
    const seenAt = new Map<string, number>();
    const admin = await kafka.admin();
    const positions = await admin.topicOffsets(txlogTopic(run));
    await admin.disconnect();
    const consumer = await kafka.consumer({ groupId: `${run}-latency` });
    await consumer.subscribe([txlogTopic(run)], { fromBeginning: false });
    await consumer.run((batch) => {
      const at = performance.timeOrigin + performance.now();
      for (const record of batch.records) {
        if (!record.value) continue;
        const event = decodeChangeEvent(record.value);
        const id = event.after?.[0];
        if (id?.kind === 'text') seenAt.set(id.text, at);
      }
      return Promise.resolve();
    });
    for (const p of positions) consumer.seek(txlogTopic(run), p.partition, p.high);
    await new Promise((r) => setTimeout(r, 3_000));

    const offered = OFFERED_RATE * LATENCY_SECONDS;
    const perClient = Math.ceil(offered / CLIENTS);
    const intervalMs = 1000 / (OFFERED_RATE / CLIENTS);
    let sent = 0;
    const latencyStart = Date.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        const t0 = performance.now();
        for (let i = 0; i < perClient; i++) {
          const due = t0 + i * intervalMs;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const id = String(10_000_000_000 + client * 100_000_000 + i);
          await pool.query(
            `INSERT INTO ${table} VALUES ($1, 'tenant-' || ($1::bigint % ${TENANTS}), 1, 'latency')`,
            [id],
          );
          committedAt.set(id, performance.timeOrigin + performance.now());
          sent += 1;
        }
      }),
    );
    const achieved = sent / ((Date.now() - latencyStart) / 1000);
    const deadline = Date.now() + 30_000;
    const seenAll = () => [...committedAt.keys()].every((id) => seenAt.has(id));
    while (!seenAll() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const latencyOf = (rows: [string, number][]): number[] =>
      rows
        .flatMap(([id, at]) => {
          const seen = seenAt.get(id);
          return seen === undefined ? [] : [Math.max(0, seen - at)];
        })
        .sort((a, b) => a - b);
    const latencies = latencyOf([...committedAt]);
    // The first seconds of load after an idle spell, where a cold path shows.
    const early = latencyOf([...committedAt].filter(([, at]) => at < latencyStart + 10_000));
    const unseen = [...committedAt.keys()].filter((id) => !seenAt.has(id));
    clearInterval(sampler);
    await consumer.disconnect();
    capture.kill('SIGTERM');
    await new Promise((r) => capture.once('exit', r));
    out();
    out(
      `latency at ${fmt(OFFERED_RATE)} tx/s offered (${LATENCY_SECONDS} s, achieved ${fmt(achieved)} tx/s, ${fmt(latencies.length)}/${fmt(sent)} seen):`,
    );
    out(
      `  commit → visible to a read_committed consumer: p50 ${fmt(percentile(latencies, 50), 1)} ms, p99 ${fmt(percentile(latencies, 99), 1)} ms, max ${fmt(latencies.at(-1) ?? Number.NaN, 1)} ms   (goal p99 < 250 ms)`,
    );
    out(
      `  first 10 s: p50 ${fmt(percentile(early, 50), 1)} ms, p99 ${fmt(percentile(early, 99), 1)} ms, max ${fmt(early.at(-1) ?? Number.NaN, 1)} ms`,
    );
    if (unseen.length > 0)
      out(
        `  NOT SEEN within 30 s: ${fmt(unseen.length)} committed rows, ids ${unseen.slice(0, 10).join(', ')}`,
      );
    out(
      `peak capture RSS: ${fmt(peak / 2 ** 20)} MiB (during catch-up, V8 heap at most ${fmt(memoryPeaks.heap / 2 ** 20)} MiB and external memory ${fmt(memoryPeaks.external / 2 ** 20)} MiB; the rest is native: librdkafka, code, allocator)`,
    );
  } finally {
    await pool
      .query(
        `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ($1, $2) AND NOT active`,
        [source.slot, recvSlot],
      )
      .catch(() => undefined);
    await pool.query(`DROP PUBLICATION IF EXISTS ${source.publication}`).catch(() => undefined);
    await pool.query(`DROP SCHEMA IF EXISTS ${run} CASCADE`).catch(() => undefined);
    const admin = await kafka.admin();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(run));
    await admin.deleteTopics(topics);
    await admin.disconnect();
    await pool.end();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
