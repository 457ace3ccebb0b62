/**
 * `npm run bench:archive`: archiver throughput and segment size on the local stack. Prints
 * numbers and ratios; asserts nothing.
 *
 *   1. A multi-tenant stream of realistic change events (inserts, updates with full before
 *      images, deletes) is written to a fresh txlog topic in Kafka transactions.
 *   2. The same events as JSON lines: the size baseline (plain and gzip).
 *   3. Encoding alone: the events grouped per tenant into segments, no I/O.
 *   4. The archiver (in this process) archives the topic from the start into S3 and the
 *      catalog; timed until the catalog holds every event.
 */
import { gzipSync } from 'node:zlib';

import { stackUp } from '../infra/stack/stack.js';
import { startArchiver } from '../services/archiver/index.js';
import { summarizeEvent } from '../shared/archive/event-summary.js';
import { encodeSegmentEntries } from '../shared/archive/segment-file.js';
import { defaultMigrationsDir, migrate, readMigrations } from '../shared/catalog/migrate.js';
import { loadConfig, requireSection } from '../shared/config/index.js';
import {
  type ChangeEvent,
  type ColumnValue,
  encodeChangeEvent,
  relationVersionOf,
  toTxlogRecord,
  txlogTopic,
  txlogTopicSpec,
} from '../shared/events/index.js';
import { createKafka } from '../shared/kafka/index.js';
import { silentLogger } from '../shared/logging.js';
import { lsnFromBigInt } from '../shared/lsn.js';
import { createPgPool, quoteIdent, withPgConnection } from '../shared/pg/index.js';
import { createObjectStore } from '../shared/s3/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const TENANTS = Number(process.env.BENCH_TENANTS ?? 50);
const PARTITIONS = 12;
const PER_TRANSACTION = 500;

const out = (line = ''): void => console.log(line);
const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const COLUMNS = [
  ['id', 20, 'bigint', true],
  ['tenant_id', 25, 'text', false],
  ['customer', 25, 'text', false],
  ['email', 25, 'text', false],
  ['amount', 1700, 'numeric(12,2)', false],
  ['status', 25, 'text', false],
  ['created_at', 1184, 'timestamp with time zone', false],
  ['note', 25, 'text', false],
] as const;
const columns = COLUMNS.map(([name, typeOid, typeName, primaryKey]) => ({
  name,
  typeOid,
  typeName,
  typeMod: -1,
  primaryKey,
  missing: null,
}));
const relation = { oid: 16_500, version: relationVersionOf('app', 'orders', columns), columns };
const STATUSES = ['new', 'paid', 'shipped', 'delivered', 'refunded'];

/** A row of the orders table, in Postgres text form. */
function row(id: number, tenant: string, version: number): ColumnValue[] {
  const text = (t: string): ColumnValue => ({ kind: 'text', text: t });
  return [
    text(String(id)),
    text(tenant),
    text(`Customer ${id % 977}`),
    text(`customer${id % 977}@example.com`),
    text((((id * 37) % 100_000) / 100 + version).toFixed(2)),
    text(STATUSES[(id + version) % STATUSES.length] ?? 'new'),
    text(
      `2026-11-20 10:${String(id % 60).padStart(2, '0')}:07.${String(id % 1_000_000).padStart(6, '0')}+00`,
    ),
    text(version % 3 === 0 ? `note ${version}` : ''),
  ];
}

/** The events of the workload: 55 % inserts, 35 % updates (full before image), 10 % deletes. */
function workload(): ChangeEvent[] {
  const events: ChangeEvent[] = [];
  const live: number[] = [];
  const versions = new Map<number, number>();
  let nextId = 1;
  let lsn = 0x1_0000_0000n;
  let xid = 1000;
  for (let i = 0; i < EVENTS; i++) {
    if (i % 4 === 0) {
      xid += 1;
      lsn += 4096n;
    }
    const choice = (i * 7919) % 100;
    let event: Pick<ChangeEvent, 'op' | 'before' | 'after'> & { id: number };
    if (choice < 55 || live.length < 10) {
      const id = nextId++;
      live.push(id);
      versions.set(id, 0);
      event = { id, op: 'insert', before: null, after: null };
    } else if (choice < 90) {
      const id = live[(i * 31) % live.length] ?? 1;
      event = { id, op: 'update', before: null, after: null };
    } else {
      const [id = 1] = live.splice((i * 17) % live.length, 1);
      event = { id, op: 'delete', before: null, after: null };
    }
    const tenant = `tenant-${event.id % TENANTS}`;
    const version = versions.get(event.id) ?? 0;
    if (event.op === 'update') versions.set(event.id, version + 1);
    events.push({
      tenant,
      schema: 'app',
      table: 'orders',
      op: event.op,
      relation,
      before: event.op === 'insert' ? null : row(event.id, tenant, version),
      after:
        event.op === 'delete'
          ? null
          : row(event.id, tenant, event.op === 'update' ? version + 1 : 0),
      truncate: null,
      xid,
      commitLsn: lsnFromBigInt(lsn),
      eventLsn: lsnFromBigInt(lsn - 100n + BigInt(i % 4)),
      commitTimeUs: 1_795_000_000_000_000n + BigInt(i) * 100n,
      sequence: i % 4,
      origin: null,
      claim: null,
    });
  }
  return events;
}

const jsonLine = (event: ChangeEvent): string =>
  `${JSON.stringify(event, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))}\n`;

async function main(): Promise<void> {
  const up = await stackUp(() => undefined);
  const run = `bench_archive_${Date.now().toString(36)}`;
  const config = loadConfig({
    ...up.settings,
    BACKTRACK_TOPIC_PREFIX: run,
    BACKTRACK_TXLOG_PARTITIONS: String(PARTITIONS),
  });
  const kafkaConfig = requireSection(config, 'kafka', 'bench');
  const s3Config = { ...requireSection(config, 's3', 'bench'), prefix: `bench/${run}/` };
  const adminUrl = requireSection(config, 'source', 'bench').url;
  const catalogUrl = new URL(adminUrl);
  catalogUrl.pathname = `/${run}`;
  const kafka = createKafka({
    brokers: kafkaConfig.brokers,
    clientId: 'bench-archive',
    log: silentLogger(),
  });
  const store = createObjectStore(s3Config);
  out(
    `archive benchmark on the local stack: Kafka ${up.state.kafka.version}, ${fmt(EVENTS)} events of ${TENANTS} tenants over ${PARTITIONS} partitions`,
  );

  await withPgConnection(adminUrl, 'bench-archive', (db) =>
    db.query(`CREATE DATABASE ${quoteIdent(run)}`),
  );
  const catalog = createPgPool(catalogUrl.toString(), { applicationName: 'bench-archive', max: 2 });
  try {
    await migrate(catalog, readMigrations(defaultMigrationsDir()));

    // 1. The stream, into Kafka.
    const events = workload();
    const topic = txlogTopic(run);
    const admin = await kafka.admin();
    await admin.ensureTopic(txlogTopicSpec(run, PARTITIONS));
    await admin.disconnect();
    let started = Date.now();
    const producer = await kafka.transactionalProducer({ transactionalId: `${run}-producer` });
    for (let i = 0; i < events.length; i += PER_TRANSACTION) {
      const transaction = await producer.begin();
      await transaction.send(
        events.slice(i, i + PER_TRANSACTION).map((e) => toTxlogRecord(topic, PARTITIONS, e)),
      );
      await transaction.commit();
    }
    await producer.disconnect();
    out(
      `produced in ${fmt((Date.now() - started) / 1000, 1)} s (${Math.ceil(events.length / PER_TRANSACTION)} Kafka transactions)`,
    );

    // 2. JSON lines: the baseline.
    const jsonl = Buffer.from(events.map(jsonLine).join(''), 'utf8');
    const jsonlGz = gzipSync(jsonl, { level: 6 });

    // 3. Encoding alone, as the archiver does it: summarise each Kafka value, copy its bytes.
    const values = events.map(encodeChangeEvent);
    started = Date.now();
    const byTenant = new Map<
      string,
      { offset: bigint; event: Buffer; summary: ReturnType<typeof summarizeEvent> }[]
    >();
    for (const [i, value] of values.entries()) {
      const summary = summarizeEvent(value);
      const list = byTenant.get(summary.tenant) ?? [];
      list.push({ offset: BigInt(i), event: value, summary });
      byTenant.set(summary.tenant, list);
    }
    let encodedBytes = 0;
    for (const [tenant, entries] of byTenant) {
      const encoded = await encodeSegmentEntries({
        tenant,
        topic,
        partition: 0,
        rangeFrom: 0n,
        rangeTo: BigInt(events.length),
        entries,
      });
      encodedBytes += encoded.bytes.length;
    }
    const encodeSeconds = (Date.now() - started) / 1000;

    // 4. The archiver, end to end.
    started = Date.now();
    const archiver = await startArchiver({
      kafka: kafkaConfig,
      s3: s3Config,
      catalog: { url: catalogUrl.toString() },
      archiver: {
        ...config.archiver,
        segmentMaxAgeMs: 1_000,
        metricsPort: 0,
        compactionIntervalMs: 0,
      },
      encryption: undefined,
      log: silentLogger(),
    });
    let archived = 0;
    while (archived < events.length) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const result = await catalog.query(
        'SELECT coalesce(sum(event_count), 0)::bigint AS n FROM backtrack.segments',
      );
      archived = Number(result.rows[0]?.n);
    }
    const archiveSeconds = (Date.now() - started) / 1000;
    await archiver.stop();
    const stats = await catalog.query(
      `SELECT count(*)::int AS segments, sum(size_bytes)::bigint AS bytes,
              (SELECT count(*)::int FROM backtrack.archive_ranges) AS ranges,
              (SELECT extract(epoch FROM max(created_at) - min(created_at)) FROM backtrack.archive_ranges) AS span,
              (SELECT sum(event_count) FROM backtrack.archive_ranges WHERE created_at > (SELECT min(created_at) FROM backtrack.archive_ranges)) AS after_first
         FROM backtrack.segments`,
    );
    const segments = Number(stats.rows[0]?.segments);
    const segmentBytes = Number(stats.rows[0]?.bytes);

    out();
    out(
      `archiver, Kafka → S3 + catalog: ${fmt(events.length)} events in ${fmt(archiveSeconds, 2)} s = ${fmt(events.length / archiveSeconds)} events/s`,
    );
    out(
      `  (includes start-up and joining the group; ${fmt(segments)} segments in ${fmt(Number(stats.rows[0]?.ranges))} ranges, ${fmt(segmentBytes / segments / 1024, 1)} KiB each)`,
    );
    const span = Number(stats.rows[0]?.span);
    if (span > 0) {
      out(
        `  steady state, first to last recorded range: ${fmt(Number(stats.rows[0]?.after_first) / span)} events/s`,
      );
    }
    out(
      `encoding alone (Avro container + deflate, ${byTenant.size} segments): ${fmt(events.length / encodeSeconds)} events/s`,
    );
    out();
    out(`bytes per event:`);
    out(`  JSON lines             ${fmt(jsonl.length / events.length, 1)}`);
    out(`  JSON lines, gzip -6    ${fmt(jsonlGz.length / events.length, 1)}`);
    out(`  segments (archived)    ${fmt(segmentBytes / events.length, 1)}`);
    out(`  segments (one/tenant)  ${fmt(encodedBytes / events.length, 1)}`);
    out(
      `compression vs JSON lines: ${fmt(jsonl.length / segmentBytes, 1)}x smaller (${fmt(jsonlGz.length / segmentBytes, 2)}x vs gzipped JSON lines)`,
    );
  } finally {
    await catalog.end();
    const keys: string[] = [];
    for await (const object of store.list()) keys.push(object.key);
    await store.deleteMany(keys);
    store.destroy();
    const admin = await kafka.admin();
    await admin.deleteTopics([txlogTopic(run)]).catch(() => undefined);
    await admin.disconnect();
    await withPgConnection(adminUrl, 'bench-archive', (db) =>
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
