/**
 * `npm run bench:produce`: the port's transactional producer on kafkajs and on librdkafka's
 * native API, alternately, against the local stack. Prints numbers and the ratio; asserts
 * nothing.
 *
 * Each run produces the same records the way capture does: Kafka transactions of
 * BENCH_TRANSACTION_RECORDS txlog records (150-byte values, the 4 txlog headers, the
 * partition of the tenant) followed by a checkpoint record, each send awaited until the
 * broker acknowledged it, then a commit. Runs alternate (kafkajs, librdkafka, kafkajs…) so
 * that a machine getting busier hurts both alike. CPU is the whole process's
 * (`process.cpuUsage`), librdkafka's own threads included.
 */
import { randomBytes } from 'node:crypto';

import { stackUp } from '../infra/stack/stack.js';
import { loadConfig, requireSection } from '../shared/config/index.js';
import {
  checkpointRecord,
  checkpointTopic,
  checkpointTopicSpec,
  relationVersionOf,
  type ChangeEvent,
  TxlogRecords,
  txlogTopic,
  txlogTopicSpec,
} from '../shared/events/index.js';
import { createKafka, type OutgoingRecord, type ProducerClient } from '../shared/kafka/index.js';
import { silentLogger } from '../shared/logging.js';
import { lsnFromBigInt } from '../shared/lsn.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000);
const PER_TRANSACTION = Number(process.env.BENCH_TRANSACTION_RECORDS ?? 500);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PARTITIONS = 12;
const VALUE_BYTES = 150;
const TENANTS = 100;
const CLIENTS: readonly ProducerClient[] = ['kafkajs', 'librdkafka'];

const out = (line = ''): void => console.log(line);
const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** One measured run. */
interface Run {
  readonly recordsPerSecond: number;
  readonly cpuMicrosPerRecord: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

/** The txlog records of the run, built once: the runs measure the producer alone. */
function txlogRecords(topic: string): OutgoingRecord[] {
  const columns = [
    { name: 'id', typeOid: 20, typeName: 'bigint', typeMod: -1, primaryKey: true },
    { name: 'note', typeOid: 25, typeName: 'text', typeMod: -1, primaryKey: false },
  ];
  const relation = { oid: 16_384, version: relationVersionOf('app', 'items', columns), columns };
  const builder = new TxlogRecords(topic, PARTITIONS);
  const records: OutgoingRecord[] = [];
  for (let i = 0; i < RECORDS; i++) {
    const lsn = lsnFromBigInt(0x1_0000_0000n + BigInt(Math.floor(i / PER_TRANSACTION)) * 4096n);
    const event: ChangeEvent = {
      tenant: `tenant-${i % TENANTS}`,
      schema: 'app',
      table: 'items',
      op: 'insert',
      relation,
      before: null,
      after: [],
      truncate: null,
      xid: 1_000 + Math.floor(i / PER_TRANSACTION),
      commitLsn: lsn,
      eventLsn: lsn,
      commitTimeUs: 0n,
      sequence: i % PER_TRANSACTION,
      origin: null,
      claim: null,
    };
    records.push(builder.record(event, randomBytes(VALUE_BYTES)));
  }
  return records;
}

async function main(): Promise<void> {
  const up = await stackUp(() => undefined);
  const run = `bench_produce_${Date.now().toString(36)}`;
  const config = loadConfig({ ...up.settings, BACKTRACK_TOPIC_PREFIX: run });
  const { brokers } = requireSection(config, 'kafka', 'bench');
  const log = silentLogger();
  const port = (producerClient: ProducerClient) =>
    createKafka({ brokers, clientId: 'bench-produce', log, producerClient });
  const topic = txlogTopic(run);
  const checkpoints = checkpointTopic(run);

  out(
    `produce benchmark on the local stack: Kafka ${up.state.kafka.version}, ${fmt(RECORDS)} records of ${VALUE_BYTES} bytes with 4 headers, transactions of ${PER_TRANSACTION} + 1 checkpoint, ${PARTITIONS} partitions, ${RUNS} runs per client`,
  );
  const kafka = port('librdkafka');
  const admin = await kafka.admin();
  try {
    await admin.ensureTopic(txlogTopicSpec(run, PARTITIONS));
    await admin.ensureTopic(checkpointTopicSpec(run));
    const records = txlogRecords(topic);

    const results = new Map<ProducerClient, Run[]>(CLIENTS.map((c) => [c, []]));
    for (let i = 0; i < RUNS; i++) {
      for (const client of CLIENTS) {
        const producer = await port(client).transactionalProducer({
          transactionalId: `${run}-${client}`,
        });
        try {
          const cpu = process.cpuUsage();
          const started = process.hrtime.bigint();
          for (let at = 0; at < records.length; at += PER_TRANSACTION) {
            const transaction = await producer.begin();
            await transaction.send(records.slice(at, at + PER_TRANSACTION));
            await transaction.send([
              checkpointRecord(
                checkpoints,
                {
                  slot: run,
                  commitEndLsn: lsnFromBigInt(BigInt(at + 1)),
                  commitLsn: lsnFromBigInt(BigInt(at)),
                  xid: at,
                  commitTimeUs: 0n,
                },
                new Date(),
              ),
            ]);
            await transaction.commit();
          }
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          const used = process.cpuUsage(cpu);
          const result: Run = {
            recordsPerSecond: records.length / seconds,
            cpuMicrosPerRecord: (used.user + used.system) / records.length,
          };
          results.get(client)?.push(result);
          out(
            `  run ${i + 1} ${client.padEnd(10)} ${fmt(result.recordsPerSecond).padStart(8)} records/s  ${fmt(result.cpuMicrosPerRecord, 1).padStart(5)} µs CPU/record`,
          );
        } finally {
          await producer.disconnect();
        }
      }
    }

    out();
    const summary = new Map(
      CLIENTS.map((client) => {
        const runs = results.get(client) ?? [];
        return [
          client,
          {
            recordsPerSecond: median(runs.map((r) => r.recordsPerSecond)),
            cpuMicrosPerRecord: median(runs.map((r) => r.cpuMicrosPerRecord)),
          },
        ] as const;
      }),
    );
    for (const [client, s] of summary) {
      out(
        `${client.padEnd(10)} median ${fmt(s.recordsPerSecond).padStart(8)} records/s  ${fmt(s.cpuMicrosPerRecord, 1).padStart(5)} µs CPU/record`,
      );
    }
    const kafkajs = summary.get('kafkajs');
    const native = summary.get('librdkafka');
    if (kafkajs && native) {
      out(
        `librdkafka / kafkajs: ${fmt(native.recordsPerSecond / kafkajs.recordsPerSecond, 2)}x the records/s, ${fmt(native.cpuMicrosPerRecord / kafkajs.cpuMicrosPerRecord, 2)}x the CPU per record`,
      );
    }
  } finally {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(run));
    await admin.deleteTopics(topics);
    await admin.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
