/**
 * The transactional producer of the port on @confluentinc/kafka-javascript's **native** API
 * (librdkafka 2.15), not its KafkaJS-compatible layer, which costs more CPU per record than
 * kafkajs itself. librdkafka batches, retries and keeps the idempotent sequence on its own
 * threads; this file turns its callbacks and delivery reports into the port's promises:
 *
 * - only failed deliveries are reported (polled every few ms while a transaction is open),
 *   and they fail the open transaction (one at a time per producer);
 * - a produce resolves once librdkafka holds the records (its queue is bounded, so it may
 *   wait for room); a failed delivery is the transaction's, raised by the next produce and
 *   by the commit (librdkafka's commit fails on an undelivered record too);
 * - a send is a produce and a flush: it resolves once the broker acknowledged every record,
 *   and rejects when one of the transaction failed;
 * - every operation has the port's deadline, and librdkafka gets the same timeout, so its
 *   worker thread is free again about when the caller gives up;
 * - errors are classified with librdkafka's own codes and flags (failure.ts).
 */
import { createRequire } from 'node:module';

import type * as RdKafka from '@confluentinc/kafka-javascript';

import { BacktrackError, isBacktrackError } from '../errors.js';
import type { Logger } from '../logging.js';

import { withDeadline } from './deadline.js';
import { cannotReach, kafkaError, reasonOf } from './failure.js';
import { explicitPartition } from './partitioner.js';
import type {
  GroupOffset,
  KafkaClientOptions,
  OutgoingRecord,
  TransactionalProducer,
  TransactionalProducerOptions,
  TransactionWithOffsets,
} from './port.js';

/**
 * The largest record the producer sends: the txlog topic's `max.message.bytes`
 * (TXLOG_MAX_MESSAGE_BYTES in shared/events; a unit test keeps the two equal). Larger
 * records fail locally with ERR_MSG_SIZE_TOO_LARGE, as the broker would refuse them.
 */
export const PRODUCER_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * How often delivery reports and callbacks are collected from librdkafka while something
 * waits for them (ms). Polling stops when nothing does: a 2 ms interval costs a connected
 * producer about 4% of a core when idle (measured: 35-42 ms of CPU per second).
 */
const POLL_INTERVAL_MS = 2;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How long records may wait in librdkafka before they go out, for bigger batches (ms). */
const LINGER_MS = 5;

/**
 * Most records, and record bytes (KiB), librdkafka holds before a produce waits for room: the
 * bound of what a transaction streaming in faster than the broker takes it keeps queued
 * (librdkafka's defaults are 100,000 records and 1 GiB). 20,000 records are 100-200 ms of
 * the local broker's work, enough to keep it busy.
 */
const QUEUE_MAX_RECORDS = 20_000;
const QUEUE_MAX_KBYTES = 16 * 1024;

/** How long a disconnect waits for records still queued (there are none after a commit). */
const DISCONNECT_FLUSH_MS = 1_000;

type Binding = typeof RdKafka;

const requireFromHere = createRequire(import.meta.url);
let loaded: Binding | undefined;

/**
 * The binding, loaded at the first producer rather than at import: the port's other
 * clients, the unit tests and the CLI's offline commands never need the native module.
 */
function binding(): Binding {
  if (!loaded) {
    try {
      loaded = requireFromHere('@confluentinc/kafka-javascript') as Binding;
    } catch (cause) {
      throw new BacktrackError(
        'CONFIG_INVALID',
        `the native Kafka client (@confluentinc/kafka-javascript) does not load: ${reasonOf(cause)}; reinstall with CKJS_LINKING=dynamic npm ci`,
        { cause },
      );
    }
  }
  return loaded;
}

/** Names of librdkafka's error codes, e.g. 10 → ERR_MSG_SIZE_TOO_LARGE. */
let codeNames: ReadonlyMap<number, string> | undefined;

function codeName(code: number): string | undefined {
  codeNames ??= new Map(Object.entries(binding().CODES.ERRORS).map(([name, n]) => [n, name]));
  return codeNames.get(code);
}

/**
 * What retrying cannot change: records too large, refused authorisations, a partition the
 * topic does not have (the partition count the records were computed with is wrong), and
 * configurations or arguments the broker or librdkafka rejects.
 */
const REFUSALS: ReadonlySet<string> = new Set([
  'ERR_MSG_SIZE_TOO_LARGE',
  'ERR_INVALID_MSG_SIZE',
  'ERR_RECORD_LIST_TOO_LARGE',
  'ERR_TOPIC_EXCEPTION',
  'ERR_INVALID_RECORD',
  'ERR_INVALID_CONFIG',
  'ERR_INVALID_REQUIRED_ACKS',
  'ERR_INVALID_TRANSACTION_TIMEOUT',
  'ERR_UNSUPPORTED_VERSION',
  'ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'ERR_POLICY_VIOLATION',
  'ERR_TOPIC_AUTHORIZATION_FAILED',
  'ERR_GROUP_AUTHORIZATION_FAILED',
  'ERR_CLUSTER_AUTHORIZATION_FAILED',
  'ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'ERR_SASL_AUTHENTICATION_FAILED',
  'ERR__AUTHENTICATION',
  'ERR__UNKNOWN_PARTITION',
  'ERR__INVALID_ARG',
  'ERR__UNSUPPORTED_FEATURE',
]);

function field(e: unknown, name: string): unknown {
  return typeof e === 'object' && e !== null ? (e as Record<string, unknown>)[name] : undefined;
}

/**
 * Turns an error of librdkafka into a BacktrackError. Everything but a refusal is retriable
 * for the caller, fatal errors included (a fenced or broken producer is replaced by a new one,
 * which fences it in turn); `isRetriable` and `isTxnRequiresAbort` go into the details.
 */
export function librdkafkaFailure(e: unknown, what: string): BacktrackError {
  const code = field(e, 'code');
  const type = typeof code === 'number' ? (codeName(code) ?? `code ${code}`) : undefined;
  const flags: Record<string, unknown> = {};
  if (typeof code === 'number') flags.code = code;
  for (const [name, key] of [
    ['isFatal', 'fatal'],
    ['isRetriable', 'retriable'],
    ['isTxnRequiresAbort', 'txnRequiresAbort'],
  ] as const) {
    const flag = field(e, name);
    if (typeof flag === 'boolean') flags[key] = flag;
  }
  return kafkaError(e, what, {
    type,
    refused: type !== undefined && REFUSALS.has(type),
    details: flags,
  });
}

/** Runs a producer operation, classifying its failure. */
async function guarded<T>(what: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (e) {
    throw librdkafkaFailure(e, what);
  }
}

/** Errors of the binding are Errors (with `code` and flags); anything else becomes one. */
function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e), { cause: e });
}

/** A callback of the binding as a promise; a synchronous throw rejects it too. */
function settled(
  call: (done: (err: RdKafka.LibrdKafkaError | null) => void) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    try {
      call((err) => (err ? reject(asError(err)) : resolve()));
    } catch (e) {
      reject(asError(e));
    }
  });
}

/** Messages of librdkafka that are routine here, logged at debug whatever their severity. */
const QUIET = [
  // A topic created a moment ago has no leader in the client's metadata yet.
  /new leader-1 not found in cache/,
  // CONCURRENT_TRANSACTIONS: a fenced predecessor's transaction is still being aborted, or
  // the previous commit's markers are being written; librdkafka retries within 20 ms.
  /another concurrent operation on the same transaction was ongoing/,
];

/** The events of a librdkafka client that routeLogs listens to. */
interface LogSource {
  on(event: 'event.log', listener: (entry: unknown) => void): unknown;
  on(event: 'event.error', listener: (error: RdKafka.LibrdKafkaError) => void): unknown;
}

/** Routes librdkafka's logs into pino: warnings and errors as warnings, the rest at debug. */
function routeLogs(client: LogSource, log: Logger): void {
  client.on('event.log', (entry: unknown) => {
    const severity = field(entry, 'severity');
    const message = field(entry, 'message');
    const fields = { fac: field(entry, 'fac'), client: field(entry, 'name'), severity };
    const text = typeof message === 'string' ? message : String(message);
    // syslog severities: 0 emergency … 3 error, 4 warning, 5 notice, 6 info, 7 debug.
    const loud = typeof severity === 'number' && severity <= 4 && !QUIET.some((p) => p.test(text));
    if (loud) log.warn(fields, text);
    else log.debug(fields, text);
  });
  client.on('event.error', (error: RdKafka.LibrdKafkaError) => {
    // Connection failures are logged by librdkafka as well (above); a fatal error is what
    // makes every later operation fail, so it is worth its own line.
    const fields = { code: error.code, type: codeName(error.code), fatal: error.isFatal === true };
    if (error.isFatal === true) log.warn(fields, `librdkafka: ${error.message}`);
    else log.debug(fields, `librdkafka: ${error.message}`);
  });
}

/**
 * The failed deliveries of one transaction. The producer reports only failed deliveries
 * (delivery.report.only.error), and records carry no opaque (the binding would keep a
 * handle for each until its report, which a delivered record never gets): one transaction
 * at a time per producer, so a failure is the open transaction's. The first is kept; the
 * next produce, a send and the commit raise it.
 */
class Produced {
  failure: unknown;
  failedAt: string | undefined;

  reported(error: RdKafka.LibrdKafkaError | null, report: RdKafka.DeliveryReport): void {
    if (error && this.failure === undefined) {
      this.failure = error;
      this.failedAt = `${report.topic}[${report.partition}]`;
    }
  }

  /** Raises the first failure, if any. */
  check(what = 'to deliver a record of the transaction'): void {
    if (this.failure !== undefined) {
      throw librdkafkaFailure(this.failure, `${what} (${this.failedAt ?? 'unknown partition'})`);
    }
  }
}

/**
 * Polls librdkafka every POLL_INTERVAL_MS while at least one send or native call waits on
 * it. (The binding's own setPollInterval adds a listener per call, so it is not toggled.)
 */
class Poller {
  private waiting = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly producer: RdKafka.Producer) {}

  /** Polls until the returned function is called. */
  hold(): () => void {
    this.waiting += 1;
    this.timer ??= setInterval(() => {
      try {
        this.producer.poll();
      } catch {
        // Disconnected: whatever waited fails by its own deadline.
      }
    }, POLL_INTERVAL_MS).unref();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.waiting -= 1;
      if (this.waiting === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }
}

/**
 * Header lists already built, by the frozen headers object they came from: records may
 * share one (as txlog records of one transaction, table and operation do).
 */
const headerLists = new WeakMap<object, RdKafka.MessageHeader[]>();

/** librdkafka's header list: one single-entry object per header. */
function headersOf(record: OutgoingRecord): RdKafka.MessageHeader[] | undefined {
  const headers = record.headers;
  if (!headers) return undefined;
  // Only a frozen object cannot change between two records.
  const shared = Object.isFrozen(headers);
  let list = shared ? headerLists.get(headers) : undefined;
  if (!list) {
    list = Object.entries(headers).map(([name, value]) => ({ [name]: value }));
    if (shared) headerLists.set(headers, list);
  }
  return list;
}

/** An offset as librdkafka takes it (a double); offsets past 2^53 do not occur in practice. */
function offsetNumber(o: GroupOffset): RdKafka.TopicPartitionOffset {
  if (o.offset < 0n || o.offset > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new BacktrackError(
      'INTERNAL',
      `offset ${o.offset} of ${o.topic}[${o.partition}] is out of range`,
    );
  }
  return { topic: o.topic, partition: o.partition, offset: Number(o.offset) };
}

/**
 * One native transactional producer. Native calls still running are tracked so that a
 * disconnect waits for them: librdkafka's transactional calls must not race its destruction.
 */
class NativeTransactionalProducer implements TransactionalProducer<TransactionWithOffsets> {
  private readonly running = new Set<Promise<void>>();
  private readonly poller: Poller;
  /** Consumers that exist only to name a group to sendOffsetsToTransaction, by group id. */
  private readonly groups = new Map<string, Promise<RdKafka.KafkaConsumer>>();
  private closing: Promise<void> | undefined;
  /** The failures of the open transaction, if one is open. */
  private open: Produced | undefined;

  constructor(
    private readonly producer: RdKafka.Producer,
    private readonly options: KafkaClientOptions,
    private readonly timeoutMs: number,
  ) {
    this.poller = new Poller(producer);
    producer.on('delivery-report', (error, report) => {
      // After an abort or a failure the producer is replaced (see the port), so a report
      // that arrives once no transaction is open has nobody left to fail.
      this.open?.reported(error, report);
    });
  }

  begin(): Promise<TransactionWithOffsets> {
    return guarded('to begin a transaction', async () => {
      await this.native('the start of a transaction', (done) =>
        this.producer.beginTransaction(done),
      );
      const produced = new Produced();
      this.open = produced;
      // Failed deliveries are polled for from the first produce to the end.
      let release: (() => void) | undefined;
      const end = () => release?.();
      // The produces not yet finished: a commit never goes before a record still being handed over.
      const handing = new Set<Promise<void>>();
      return {
        send: (records) => {
          release ??= this.poller.hold();
          return this.send(records, produced);
        },
        produce: (records) => {
          release ??= this.poller.hold();
          const call = this.produce(records, produced);
          handing.add(call);
          const forget = () => handing.delete(call);
          call.then(forget, forget);
          return call;
        },
        sendOffsets: (group, offsets) =>
          this.sendOffsets(typeof group === 'string' ? group : group.groupId, offsets),
        commit: () =>
          guarded('to commit a transaction', async () => {
            try {
              await Promise.allSettled([...handing]);
              // A record already refused: the transaction can only abort.
              produced.check(
                'to commit: a record was not delivered, the transaction must be aborted',
              );
              // librdkafka's commit flushes every record first and fails if any is undelivered.
              await this.native('a commit', (done) =>
                this.producer.commitTransaction(this.timeoutMs, done),
              );
            } finally {
              end();
              if (this.open === produced) this.open = undefined;
            }
          }),
        abort: () =>
          guarded('to abort a transaction', async () => {
            try {
              await this.native('an abort', (done) =>
                this.producer.abortTransaction(this.timeoutMs, done),
              );
            } finally {
              end();
              if (this.open === produced) this.open = undefined;
            }
          }),
      };
    });
  }

  disconnect(): Promise<void> {
    this.closing ??= this.close();
    return this.closing;
  }

  /**
   * Resolves once the broker acknowledged every record (a flush: librdkafka delivers all it
   * holds), rejects if any record of the transaction failed.
   */
  private async send(records: readonly OutgoingRecord[], produced: Produced): Promise<void> {
    if (records.length === 0) return;
    // Refused before anything is produced: no record of the call goes out without one.
    const partitions = records.map(explicitPartition);
    const handing = { abandoned: false };
    try {
      await withDeadline(
        'a send',
        this.timeoutMs,
        (async () => {
          await this.handOver(records, partitions, produced, handing);
          await settled((done) => this.producer.flush(this.timeoutMs, done));
          // The flush returns before the binding hands its reports to JavaScript, which it
          // does in the same turn of the event loop: one turn later they have been seen.
          await new Promise(setImmediate);
        })(),
      );
      produced.check('to take records into a transaction');
    } catch (e) {
      if (isBacktrackError(e)) throw e;
      const at = produced.failedAt === undefined ? '' : ` (${produced.failedAt})`;
      throw librdkafkaFailure(e, `to take records into a transaction${at}`);
    } finally {
      handing.abandoned = true;
    }
  }

  /** Hands records to librdkafka for an open transaction, without waiting for delivery. */
  private produce(records: readonly OutgoingRecord[], produced: Produced): Promise<void> {
    return guarded('to take records into a transaction', async () => {
      produced.check();
      if (records.length === 0) return;
      // Refused before anything is produced: no record of the call goes out without one.
      const partitions = records.map(explicitPartition);
      const handing = { abandoned: false };
      try {
        await withDeadline(
          'a produce',
          this.timeoutMs,
          this.handOver(records, partitions, produced, handing),
        );
      } finally {
        handing.abandoned = true;
      }
    });
  }

  /** Produces every record, waiting for room in librdkafka's queue whenever it is full. */
  private async handOver(
    records: readonly OutgoingRecord[],
    partitions: readonly number[],
    produced: Produced,
    handing: { abandoned: boolean },
  ): Promise<void> {
    const queueFull = binding().CODES.ERRORS.ERR__QUEUE_FULL;
    for (let i = 0; i < records.length && !handing.abandoned;) {
      const record = records[i];
      const partition = partitions[i];
      if (record === undefined || partition === undefined) return;
      try {
        this.producer.produce(
          record.topic,
          partition,
          record.value,
          record.key,
          record.timestampMs ?? null,
          // No opaque: the binding would hold a handle per record until a report that a
          // delivered record never gets (failures go to the open transaction, Produced).
          undefined,
          headersOf(record),
        );
        i += 1;
      } catch (e) {
        if (field(e, 'code') !== queueFull) {
          throw librdkafkaFailure(
            e,
            `to take a record into a transaction (${record.topic}[${partition}])`,
          );
        }
        // The queue frees as the broker acknowledges records; then carry on from here.
        await sleep(POLL_INTERVAL_MS);
        produced.check();
      }
    }
  }

  private sendOffsets(groupId: string, offsets: readonly GroupOffset[]): Promise<void> {
    return guarded(`to add offsets of group ${groupId} to a transaction`, async () => {
      if (offsets.length === 0) return;
      const list = offsets.map(offsetNumber);
      await withDeadline(
        'a send of offsets',
        this.timeoutMs,
        (async () => {
          const consumer = await this.groupConsumer(groupId);
          await this.native('a send of offsets', (done) =>
            this.producer.sendOffsetsToTransaction(list, consumer, this.timeoutMs, done),
          );
        })(),
      );
    });
  }

  /**
   * A connected librdkafka consumer of `groupId` that never subscribes: its group metadata
   * is the group id with no generation and no member (what the binding can build without
   * a member of the group), enough for the broker to commit the offsets with the transaction.
   */
  private groupConsumer(groupId: string): Promise<RdKafka.KafkaConsumer> {
    let consumer = this.groups.get(groupId);
    if (!consumer) {
      const created = new (binding().KafkaConsumer)(
        {
          'metadata.broker.list': this.options.brokers.join(','),
          'client.id': `${this.options.clientId}-offsets`,
          'group.id': groupId,
          'enable.auto.commit': false,
        },
        {},
      );
      routeLogs(created, this.options.log.child({ lib: 'librdkafka', group: groupId }));
      consumer = settled((done) =>
        created.connect({ allTopics: false, timeout: this.timeoutMs }, done),
      ).then(() => created);
      // A failed connection is not kept: the next send of offsets tries again.
      consumer.catch(() => this.groups.delete(groupId));
      this.groups.set(groupId, consumer);
    }
    return consumer;
  }

  /** A native call under the deadline; tracked until librdkafka answers, even past it. */
  private native(
    what: string,
    call: (done: (err: RdKafka.LibrdKafkaError | null) => void) => void,
  ): Promise<void> {
    const release = this.poller.hold();
    const answer = settled(call);
    this.running.add(answer);
    const forget = () => {
      this.running.delete(answer);
      release();
    };
    answer.then(forget, forget);
    return withDeadline(what, this.timeoutMs, answer);
  }

  /** Runs `initTransactions`, tracked like every native call. */
  init(timeoutMs: number): Promise<void> {
    return this.native('a new producer', (done) => this.producer.initTransactions(timeoutMs, done));
  }

  /**
   * Destroys the clients, bounded by the deadline. librdkafka's transactional calls still
   * running are waited for first (they must not race the destruction of their handle); when
   * they outlive the deadline the caller goes on and the destruction follows them.
   */
  private close(): Promise<void> {
    return withDeadline('a disconnect', this.timeoutMs, this.destroy()).catch((e: unknown) => {
      this.options.log.warn({ err: e }, 'librdkafka producer not destroyed within the deadline');
    });
  }

  private async destroy(): Promise<void> {
    await Promise.allSettled([...this.running]);
    const consumers = await Promise.allSettled([...this.groups.values()]);
    await Promise.allSettled([
      settled((done) => this.producer.disconnect(DISCONNECT_FLUSH_MS, () => done(null))),
      ...consumers.map((c) =>
        c.status === 'fulfilled'
          ? settled((done) => c.value.disconnect(() => done(null)))
          : Promise.resolve(),
      ),
    ]);
  }
}

/** The producer's librdkafka configuration. */
function producerConfig(
  options: KafkaClientOptions,
  producer: TransactionalProducerOptions,
  timeoutMs: number,
): { global: RdKafka.ProducerGlobalConfig; topic: RdKafka.ProducerTopicConfig } {
  const transactionTimeoutMs = producer.transactionTimeoutMs ?? 60_000;
  return {
    global: {
      'metadata.broker.list': options.brokers.join(','),
      'client.id': options.clientId,
      'transactional.id': producer.transactionalId,
      'transaction.timeout.ms': transactionTimeoutMs,
      // Implied by transactional.id; stated because exactly-once rests on it.
      'enable.idempotence': true,
      'linger.ms': LINGER_MS,
      'queue.buffering.max.kbytes': QUEUE_MAX_KBYTES,
      'queue.buffering.max.messages': QUEUE_MAX_RECORDS,
      // CPU per record is what bounds capture; the topic stores what the producer sends.
      'compression.codec': 'none',
      'message.max.bytes': PRODUCER_MAX_MESSAGE_BYTES,
      'socket.connection.setup.timeout.ms': options.connectionTimeoutMs ?? 5_000,
      // After an outage a broker is tried again within 2 s (librdkafka's default backs off
      // to 10 s), so a commit waiting for it resumes soon after it is back.
      'reconnect.backoff.max.ms': 2_000,
      dr_cb: true,
      // Reports of failed deliveries only: a report per record costs the main thread a few
      // µs, and the binding hands them over 100 per turn of the event loop, keeping the rest
      // in native memory, so a large transaction would pile them up. Success is known from
      // the flush (send) or the commit, which delivers every record or fails.
      'delivery.report.only.error': true,
    },
    topic: {
      acks: -1,
      // A record not delivered by the time its send's deadline expires fails with a reason
      // of its own (timed out, which makes the transaction abortable) a moment before.
      'message.timeout.ms': Math.max(
        Math.min(timeoutMs, transactionTimeoutMs) - 1_000,
        Math.ceil(Math.min(timeoutMs, transactionTimeoutMs) / 2),
      ),
    },
  };
}

/**
 * Creates a native transactional producer and resolves once `initTransactions` returned:
 * the transactional id's epoch is bumped, so any older producer with the same id is fenced
 * and its open transaction aborted. Unreachable brokers fail it as retriable
 * KAFKA_UNAVAILABLE within the operation deadline.
 */
export async function createNativeProducer(
  options: KafkaClientOptions,
  producerOptions: TransactionalProducerOptions,
  timeoutMs: number,
): Promise<TransactionalProducer<TransactionWithOffsets>> {
  const config = producerConfig(options, producerOptions, timeoutMs);
  const producer = new (binding().Producer)(config.global, config.topic);
  routeLogs(
    producer,
    options.log.child({ lib: 'librdkafka', transactionalId: producerOptions.transactionalId }),
  );
  const startedMs = Date.now();
  const remaining = () => Math.max(1, timeoutMs - (Date.now() - startedMs));
  const connecting = settled((done) =>
    producer.connect({ allTopics: false, timeout: remaining() }, (err) => done(err)),
  );
  try {
    await withDeadline('a new producer', timeoutMs, connecting);
  } catch (e) {
    // A failed connect leaves librdkafka disconnected already; one that succeeds after the
    // deadline would leave a connected client nobody owns, so it is disconnected then.
    void connecting.then(
      () => producer.disconnect(DISCONNECT_FLUSH_MS, () => undefined),
      () => undefined,
    );
    throw cannotReach(options.brokers, e);
  }
  const wrapped = new NativeTransactionalProducer(producer, options, timeoutMs);
  try {
    await withDeadline('a new producer', remaining(), wrapped.init(remaining()));
  } catch (e) {
    // Not awaited: the failure is reported within the deadline, the destruction follows.
    void wrapped.disconnect();
    const failure = librdkafkaFailure(e, 'to start a transactional producer');
    throw failure.code === 'KAFKA_REFUSED' ? failure : cannotReach(options.brokers, e);
  }
  return wrapped;
}
