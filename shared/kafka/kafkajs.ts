/**
 * The kafkajs adapter of the port: admin, read_committed consumers, partition ranges, and a
 * transactional producer kept only to compare it with the native one (`npm run
 * bench:produce`; the port's producer is librdkafka.ts). kafkajs 2.2.4 is unmaintained since
 * 2023 but fine with Kafka 3.9 and 4.x for what it still does here.
 */
import { randomUUID } from 'node:crypto';

import {
  type Admin,
  type Consumer,
  type ICustomPartitioner,
  type IHeaders,
  Kafka,
  logLevel as KafkaLogLevel,
  type LogEntry,
  type Producer,
  type Transaction,
} from 'kafkajs';

import { BacktrackError } from '../errors.js';
import type { Logger } from '../logging.js';
import { retry } from '../retry.js';

import { withDeadline } from './deadline.js';
import { cannotReach, kafkaError } from './failure.js';
import { explicitPartition } from './partitioner.js';
import type {
  ConsumerOptions,
  IncomingRecord,
  KafkaAdmin,
  KafkaClientOptions,
  KafkaConsumer,
  OutgoingRecord,
  PartitionRange,
  ReadRangeOptions,
  TransactionalProducer,
  TransactionalProducerOptions,
  TransactionWithOffsets,
} from './port.js';

const LOG_METHOD = {
  [KafkaLogLevel.NOTHING]: 'debug',
  [KafkaLogLevel.ERROR]: 'warn',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'debug',
  [KafkaLogLevel.DEBUG]: 'trace',
} as const;

/**
 * kafkajs notices that do not apply here. Retries of the idempotent producer are bounded
 * on purpose: a failed send aborts the whole Kafka transaction and the writer starts again
 * fenced, which keeps exactly-once.
 */
const QUIET = [
  /Limiting retries for the idempotent producer/,
  // CONCURRENT_TRANSACTIONS: the previous commit's markers are still being written; the
  // producer retries within milliseconds. Routine under load, not worth a warning.
  /another concurrent operation on the same transaction was ongoing/,
];

/** Routes kafkajs's logs into pino: its errors become warnings (we report our own errors). */
function logCreator(log: Logger) {
  const kafkajs = log.child({ lib: 'kafkajs' });
  return () =>
    ({ level, log: entry }: LogEntry): void => {
      const { message, timestamp: _timestamp, logger: _logger, ...fields } = entry;
      const said = typeof fields.error === 'string' ? `${message} ${fields.error}` : message;
      const method = QUIET.some((pattern) => pattern.test(said)) ? 'debug' : LOG_METHOD[level];
      kafkajs[method](fields, message);
    };
}

function toIncomingHeaders(headers: IHeaders | undefined): Record<string, Buffer> {
  const result: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first === undefined) continue;
    result[name] = Buffer.isBuffer(first) ? first : Buffer.from(first);
  }
  return result;
}

function headersOf(record: OutgoingRecord): IHeaders | undefined {
  if (!record.headers) return undefined;
  return { ...record.headers };
}

/** kafkajs's sendBatch payload: records by topic, each with its explicit partition. */
function groupByTopic(records: readonly OutgoingRecord[]) {
  const byTopic = new Map<string, OutgoingRecord[]>();
  for (const record of records) {
    const list = byTopic.get(record.topic) ?? [];
    list.push(record);
    byTopic.set(record.topic, list);
  }
  return [...byTopic].map(([topic, list]) => ({
    topic,
    messages: list.map((r) => ({
      key: r.key,
      value: r.value,
      headers: headersOf(r),
      partition: explicitPartition(r),
      ...(r.timestampMs === undefined ? {} : { timestamp: String(r.timestampMs) }),
    })),
  }));
}

function wrapAdmin(admin: Admin): KafkaAdmin {
  return {
    describeCluster: () =>
      guarded('to describe the cluster', async () => {
        const cluster = await admin.describeCluster();
        return {
          clusterId: cluster.clusterId,
          controllerId: cluster.controller,
          brokers: cluster.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port })),
        };
      }),
    ensureTopic: async (spec) => {
      const outcome = await settling(() =>
        guarded(`to create topic ${spec.name}`, async () => {
          // Checked first: kafkajs logs a warning for every createTopics of an existing topic.
          if ((await admin.listTopics()).includes(spec.name)) return 'exists' as const;
          const created = await admin.createTopics({
            waitForLeaders: true,
            topics: [
              {
                topic: spec.name,
                numPartitions: spec.partitions,
                replicationFactor: spec.replicationFactor ?? -1,
                configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({
                  name,
                  value,
                })),
              },
            ],
          });
          return created ? ('created' as const) : ('exists' as const);
        }),
      );
      // A topic just created (here or by another process) answers "unknown" or "not the
      // leader" until every partition has a leader; return only once it serves offsets.
      await settling(() =>
        guarded(`to wait for the leaders of topic ${spec.name}`, () =>
          admin.fetchTopicOffsets(spec.name),
        ),
      );
      return outcome;
    },
    listTopics: () => guarded('to list topics', () => admin.listTopics()),
    deleteTopics: (names) =>
      guarded('to delete topics', async () => {
        if (names.length > 0) await admin.deleteTopics({ topics: [...names] });
      }),
    topicOffsets: (topic) =>
      settling(() =>
        guarded(`to list the offsets of ${topic}`, async () => {
          const offsets = await admin.fetchTopicOffsets(topic);
          return offsets
            .map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }))
            .sort((a, b) => a.partition - b.partition);
        }),
      ),
    groupOffsets: (groupId, topic) =>
      guarded(`to fetch the offsets of group ${groupId}`, async () => {
        const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return (entry?.partitions ?? []).map((p) => ({
          partition: p.partition,
          offset: BigInt(p.offset),
        }));
      }),
    disconnect: () => admin.disconnect(),
  };
}

function wrapTransaction(transaction: Transaction, timeoutMs: number): TransactionWithOffsets {
  const send = (records: readonly OutgoingRecord[]): Promise<void> =>
    guarded('to take records into a transaction', async () => {
      if (records.length === 0) return;
      const topicMessages = groupByTopic(records);
      await withDeadline('a send', timeoutMs, transaction.sendBatch({ topicMessages, acks: -1 }));
    });
  return {
    send,
    // kafkajs has no client-side queue: a produce is a send, acknowledged before it resolves.
    produce: send,
    sendOffsets: (group, offsets) =>
      guarded('to add offsets to a transaction', async () => {
        const byTopic = new Map<string, { partition: number; offset: string }[]>();
        for (const o of offsets) {
          const list = byTopic.get(o.topic) ?? [];
          list.push({ partition: o.partition, offset: o.offset.toString() });
          byTopic.set(o.topic, list);
        }
        await withDeadline(
          'a send of offsets',
          timeoutMs,
          transaction.sendOffsets({
            consumerGroupId: typeof group === 'string' ? group : group.groupId,
            topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
          }),
        );
      }),
    commit: () =>
      guarded('to commit a transaction', () =>
        withDeadline('a commit', timeoutMs, transaction.commit()),
      ),
    abort: () =>
      guarded('to abort a transaction', () =>
        withDeadline('an abort', timeoutMs, transaction.abort()),
      ),
  };
}

function wrapProducer(
  producer: Producer,
  timeoutMs: number,
): TransactionalProducer<TransactionWithOffsets> {
  return {
    begin: () =>
      guarded('to begin a transaction', async () =>
        wrapTransaction(
          await withDeadline('the start of a transaction', timeoutMs, producer.transaction()),
          timeoutMs,
        ),
      ),
    // A disconnect that hangs is let go after the deadline: the producer is fenced anyway.
    disconnect: () =>
      withDeadline('a disconnect', timeoutMs, producer.disconnect()).catch(() => undefined),
  };
}

/**
 * kafkajs asks its partitioner about every record, explicit partition or not; this one
 * answers with the record's own partition (set by explicitPartition) and never picks one.
 */
const ownPartition: ICustomPartitioner =
  () =>
  ({ topic, message }) => {
    if (message.partition === undefined) {
      throw new BacktrackError('INTERNAL', `kafkajs was asked to pick a partition of ${topic}`);
    }
    return message.partition;
  };

/** kafkajs sets `fetchedOffset` on every batch; its type declarations omit it. */
function fetchedOffsetOf(batch: { firstOffset(): string | null }): bigint {
  const fetched: unknown = (batch as unknown as Record<string, unknown>).fetchedOffset;
  if (typeof fetched === 'string' || typeof fetched === 'number') return BigInt(fetched);
  return BigInt(batch.firstOffset() ?? '0');
}

function wrapConsumer(consumer: Consumer, partitionsConsumedConcurrently: number): KafkaConsumer {
  return {
    subscribe: (topics, { fromBeginning }) =>
      consumer.subscribe({ topics: [...topics], fromBeginning }),
    run: (onBatch) =>
      consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently,
        eachBatch: async (payload) => {
          const { batch } = payload;
          if (payload.isStale()) return;
          const records: IncomingRecord[] = batch.messages.map((m) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: BigInt(m.offset),
            key: m.key,
            value: m.value,
            headers: toIncomingHeaders(m.headers),
            timestampMs: Number(m.timestamp),
          }));
          await onBatch(
            {
              topic: batch.topic,
              partition: batch.partition,
              records,
              highWatermark: BigInt(batch.highWatermark),
              fetchedOffset: fetchedOffsetOf(batch),
              // lastOffset() counts the transaction markers and aborted records of the fetch.
              nextOffset: BigInt(batch.lastOffset()) + 1n,
            },
            {
              heartbeat: () => payload.heartbeat(),
              isRunning: () => payload.isRunning() && !payload.isStale(),
            },
          );
          // Marks the batch processed for this fetch loop only; the group's committed
          // offsets move solely through commit().
          const last = batch.messages.at(-1);
          if (last) payload.resolveOffset(last.offset);
        },
      }),
    commit: (offsets) =>
      consumer.commitOffsets(
        offsets.map((o) => ({
          topic: o.topic,
          partition: o.partition,
          offset: o.offset.toString(),
        })),
      ),
    seek: (topic, partition, offset) =>
      consumer.seek({ topic, partition, offset: offset.toString() }),
    onCrash: (listener) => {
      consumer.on(consumer.events.CRASH, (event) => {
        const payload = event.payload as { error: Error; restart: boolean };
        if (!payload.restart) listener(payload.error);
      });
    },
    onAssignment: (listener) => {
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        const payload = event.payload as { memberAssignment: Record<string, number[]> };
        listener(
          Object.entries(payload.memberAssignment).map(([topic, partitions]) => ({
            topic,
            partitions: [...partitions].sort((a, b) => a - b),
          })),
        );
      });
    },
    onPositionAdvanced: (listener) => {
      consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
        const payload = event.payload as {
          topic: string;
          partition: number;
          batchSize: number;
          firstOffset: string | null;
          lastOffset: string;
        };
        // Batches with records went to run()'s handler, which saw their nextOffset.
        if (payload.batchSize > 0) return;
        const nextOffset = BigInt(payload.lastOffset) + 1n;
        listener({
          topic: payload.topic,
          partition: payload.partition,
          fromOffset: payload.firstOffset === null ? nextOffset - 1n : BigInt(payload.firstOffset),
          nextOffset,
        });
      });
    },
    stop: () => consumer.stop(),
    disconnect: () => consumer.disconnect(),
  };
}

/** Broker answers that retrying cannot change (kafkajs's names of the protocol errors). */
const REFUSALS =
  /AUTHORIZATION_FAILED|SASL_AUTHENTICATION_FAILED|MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE|INVALID_TOPIC_EXCEPTION|INVALID_RECORD|INVALID_CONFIG|INVALID_REQUIRED_ACKS|INVALID_TRANSACTION_TIMEOUT|UNSUPPORTED_VERSION|UNSUPPORTED_FOR_MESSAGE_FORMAT|POLICY_VIOLATION/;

/** The protocol error type of a kafkajs error or of one it wraps. */
function protocolType(e: unknown, depth = 0): string | undefined {
  if (typeof e !== 'object' || e === null || depth > 5) return undefined;
  const record = e as Record<string, unknown>;
  if (typeof record.type === 'string') return record.type;
  return protocolType(record.cause, depth + 1) ?? protocolType(record.originalError, depth + 1);
}

/** Turns an error of kafkajs into a BacktrackError that says whether to retry. */
function kafkajsFailure(e: unknown, what: string): BacktrackError {
  const type = protocolType(e);
  return kafkaError(e, what, { type, refused: type !== undefined && REFUSALS.test(type) });
}

/** Errors of a topic whose partitions are still electing leaders (new topic, restarted broker). */
const SETTLING =
  /^(UNKNOWN_TOPIC_OR_PARTITION|NOT_LEADER_FOR_PARTITION|NOT_LEADER_OR_FOLLOWER|LEADER_NOT_AVAILABLE)$/;

/** Retries an admin operation for a few seconds while the topic's metadata settles. */
function settling<T>(operation: () => Promise<T>): Promise<T> {
  return retry(operation, {
    policy: { initialMs: 100, maxMs: 1_000, maxAttempts: 15 },
    retriable: (e) => {
      const type = protocolType(e);
      return type !== undefined && SETTLING.test(type);
    },
  });
}

/** Runs a Kafka operation, classifying its failure. */
async function guarded<T>(what: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (e) {
    throw kafkajsFailure(e, what);
  }
}

/**
 * Consumes [from, to) of one partition. The position comes from END_BATCH_PROCESS, which
 * kafkajs also emits for batches holding only transaction markers or aborted records
 * (those never reach eachBatch), so the end is detected even when a marker is last.
 */
async function readPartitionRange(
  consumer: Consumer,
  range: PartitionRange,
  onRecords: (records: readonly IncomingRecord[]) => Promise<void> | void,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  let position = range.from;
  let finish: (() => void) | undefined;
  let fail: ((e: Error) => void) | undefined;
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const advance = (lastOffset: string): void => {
    const next = BigInt(lastOffset) + 1n;
    if (next > position) position = next;
    if (position >= range.to) finish?.();
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
    const payload = event.payload as { topic: string; partition: number; lastOffset: string };
    if (payload.topic === range.topic && payload.partition === range.partition)
      advance(payload.lastOffset);
  });
  consumer.on(consumer.events.CRASH, (event) => {
    const payload = event.payload as { error: Error };
    fail?.(payload.error);
  });
  signal?.addEventListener('abort', () => finish?.(), { once: true });

  await consumer.subscribe({ topics: [range.topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async (payload) => {
      const { batch } = payload;
      if (signal?.aborted) return;
      if (batch.topic !== range.topic || batch.partition !== range.partition) {
        // Another partition of the topic: stop fetching it, it is not ours to read.
        payload.pause();
        return;
      }
      const records: IncomingRecord[] = [];
      for (const m of batch.messages) {
        const offset = BigInt(m.offset);
        if (offset < range.from || offset >= range.to) continue;
        records.push({
          topic: batch.topic,
          partition: batch.partition,
          offset,
          key: m.key,
          value: m.value,
          headers: toIncomingHeaders(m.headers),
          timestampMs: Number(m.timestamp),
        });
      }
      if (records.length > 0) await onRecords(records);
    },
  });
  consumer.seek({ topic: range.topic, partition: range.partition, offset: range.from.toString() });

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new BacktrackError(
            'KAFKA_UNAVAILABLE',
            `reading ${range.topic}[${range.partition}] offsets ${range.from}..${range.to} stalled at ${position}`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    await Promise.race([finished, timeout]);
  } finally {
    clearTimeout(timer);
    await consumer.stop();
  }
}

/** The parts of the port that kafkajs serves. */
export interface KafkajsClients {
  admin(): Promise<KafkaAdmin>;
  readRange(
    range: PartitionRange,
    onRecords: (records: readonly IncomingRecord[]) => Promise<void> | void,
    options?: ReadRangeOptions,
  ): Promise<void>;
  consumer(options: ConsumerOptions): Promise<KafkaConsumer>;
  /** For comparisons only; the port's producer is the native one. */
  transactionalProducer(
    options: TransactionalProducerOptions,
  ): Promise<TransactionalProducer<TransactionWithOffsets>>;
}

/** Creates the kafkajs clients. Nothing connects until a client is asked for. */
export function createKafkajs(options: KafkaClientOptions, timeoutMs: number): KafkajsClients {
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout: options.connectionTimeoutMs ?? 5_000,
    requestTimeout: 30_000,
    retry: { retries: options.retries ?? 5, initialRetryTime: 300, maxRetryTime: 10_000 },
    logLevel: KafkaLogLevel.WARN,
    logCreator: logCreator(options.log),
  });

  const connected = async <T extends { connect(): Promise<void> }>(client: T): Promise<T> => {
    try {
      await client.connect();
      return client;
    } catch (e) {
      throw cannotReach(options.brokers, e);
    }
  };

  return {
    admin: async () => wrapAdmin(await connected(kafka.admin())),
    transactionalProducer: async ({ transactionalId, transactionTimeoutMs }) => {
      const producer = await connected(
        kafka.producer({
          createPartitioner: ownPartition,
          transactionalId,
          idempotent: true,
          maxInFlightRequests: 1,
          transactionTimeout: transactionTimeoutMs ?? 60_000,
          // A transaction begun right after a commit often hears CONCURRENT_TRANSACTIONS
          // while the coordinator writes the previous markers; that clears in milliseconds,
          // so the first retry comes after 20 ms (the client's default is 300 ms). Retries
          // stay unlimited, as kafkajs wants for an idempotent producer: a limit can leave a
          // transaction half-failed (seen as a capture that never resumed after an outage).
          retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 20, maxRetryTime: 10_000 },
        }),
      );
      try {
        // kafkajs initialises the producer id lazily, at the first transaction. An empty
        // transaction does it now: InitProducerId bumps the epoch, which fences the previous
        // incarnation and has the coordinator abort its open transaction.
        const fence = await withDeadline('a new producer', timeoutMs, producer.transaction());
        await withDeadline('a new producer', timeoutMs, fence.abort());
      } catch (e) {
        await withDeadline('a disconnect', timeoutMs, producer.disconnect()).catch(() => undefined);
        throw cannotReach(options.brokers, e);
      }
      return wrapProducer(producer, timeoutMs);
    },
    readRange: async (range, onRecords, readOptions = {}) => {
      if (range.from >= range.to || readOptions.signal?.aborted) return;
      const consumer = kafka.consumer({
        groupId: `${options.clientId}-reader-${randomUUID()}`,
        readUncommitted: readOptions.uncommitted === true,
        allowAutoTopicCreation: false,
        maxWaitTimeInMs: 200,
      });
      await connected(consumer);
      try {
        await guarded(`to read ${range.topic}[${range.partition}]`, () =>
          readPartitionRange(
            consumer,
            range,
            onRecords,
            readOptions.timeoutMs ?? 120_000,
            readOptions.signal,
          ),
        );
      } finally {
        await consumer.disconnect();
      }
    },
    consumer: async (consumerOptions) =>
      wrapConsumer(
        await connected(
          kafka.consumer({
            groupId: consumerOptions.groupId,
            readUncommitted: false,
            maxBytesPerPartition: consumerOptions.maxBytesPerPartition ?? 4 * 1024 * 1024,
            sessionTimeout: consumerOptions.sessionTimeoutMs ?? 30_000,
            allowAutoTopicCreation: false,
          }),
        ),
        consumerOptions.partitionsConsumedConcurrently ?? 1,
      ),
  };
}
