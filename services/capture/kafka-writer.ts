/**
 * Writes the transaction log: one Kafka transaction holds the events of one or more whole
 * Postgres transactions and, last, the checkpoint record of the newest of them. Events go
 * into the open Kafka transaction in chunks as they arrive (never a whole Postgres
 * transaction in memory); the Kafka transaction commits when a batch is full, when it has
 * lingered long enough, or on shutdown. Only once Kafka committed is the slot told it may
 * advance.
 *
 * Overlap, within bounds: one chunk may be in flight while the next fills, and a batch's
 * commit may be in flight while the next batch's events are decoded (its Kafka transaction
 * begins only after that commit). At most two chunks are in memory. A failure of anything
 * in flight surfaces at the writer's next operation and through `onError`.
 *
 * Every public method takes the writer's lock, which the linger timer shares, so a timed
 * commit never interleaves with an event being added.
 */
import type { Clock } from '../../shared/clock.js';
import { BacktrackError } from '../../shared/errors.js';
import { type Checkpoint, checkpointRecord } from '../../shared/events/checkpoint.js';
import {
  type ChangeEvent,
  encodeChangeEvent,
  TxlogRecords,
  TXLOG_MAX_MESSAGE_BYTES,
} from '../../shared/events/index.js';
import type {
  KafkaTransaction,
  OutgoingRecord,
  TransactionalProducer,
} from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging.js';
import type { Lsn } from '../../shared/lsn.js';
import { Mutex } from '../../shared/mutex.js';
import type { ObjectStore } from '../../shared/s3/index.js';

import type { CaptureMetrics } from './metrics.js';

/** Events larger than this keep their row images in object storage (claim check). */
export const CLAIM_CHECK_BYTES = TXLOG_MAX_MESSAGE_BYTES / 2;

/** What the writer needs. */
export interface WriterOptions {
  readonly producer: TransactionalProducer;
  readonly txlogTopic: string;
  /** Partitions of the txlog topic: each event goes to partitionForKey(tenant) of them. */
  readonly txlogPartitions: number;
  readonly checkpointTopic: string;
  readonly slot: string;
  readonly lingerMs: number;
  readonly maxBatchTransactions: number;
  readonly chunkBytes: number;
  /** Where oversized row images go; without it an oversized event stops capture. */
  readonly claims: ObjectStore | undefined;
  readonly clock: Clock;
  readonly metrics: CaptureMetrics;
  readonly log: Logger;
  /** Called after Kafka committed everything up to `commitEndLsn`, in order. */
  onDurable(commitEndLsn: Lsn): void;
  /** Called when something in flight fails (the session must stop). */
  onError(error: unknown): void;
}

/** A Postgres transaction that ended. */
export interface CompletedTransaction extends Checkpoint {
  readonly events: number;
}

/** The batch being assembled: whole Postgres transactions bound for one Kafka transaction. */
interface Batch {
  /** Opened lazily, when the first chunk is sent (after the previous batch committed). */
  transaction: KafkaTransaction | undefined;
  pending: OutgoingRecord[];
  pendingOps: string[];
  pendingBytes: number;
  /** Records sent or pending in this batch. */
  records: number;
  completed: CompletedTransaction[];
  startedMs: number;
  /** The chunk in flight, if any; settles once the broker acknowledged it. */
  inflight: Promise<void> | undefined;
}

/** Writes events and checkpoints into Kafka transactions. */
export class TxlogWriter {
  private readonly lock = new Mutex();
  private readonly records: TxlogRecords;
  private batch: Batch | undefined;
  private insidePgTransaction = false;
  private timer: NodeJS.Timeout | undefined;
  /** The commit of the previous batch, while in flight. */
  private committing: Promise<void> | undefined;
  /** The first failure of something in flight; every later operation raises it. */
  private failure: Error | undefined;

  constructor(private readonly options: WriterOptions) {
    this.records = new TxlogRecords(options.txlogTopic, options.txlogPartitions);
  }

  /**
   * True when nothing waits to be committed and no Postgres transaction is open. Never
   * after a failure: a batch whose commit failed is gone from `batch` and `committing`, yet
   * its transactions are not in Kafka, so the slot must not advance past them on an idle
   * keepalive before the session ends.
   */
  idle(): boolean {
    return (
      this.failure === undefined &&
      this.batch === undefined &&
      this.committing === undefined &&
      !this.insidePgTransaction
    );
  }

  /** A Postgres transaction begins; its events follow. */
  beginTransaction(): Promise<void> {
    return this.locked(() => {
      this.insidePgTransaction = true;
      return Promise.resolve();
    });
  }

  /** Adds one event of the current Postgres transaction. */
  add(event: ChangeEvent): Promise<void> {
    return this.locked(async () => {
      const batch = this.openBatch();
      let value = encodeChangeEvent(event);
      if (value.length > CLAIM_CHECK_BYTES) value = await this.claimCheck(event, value);
      batch.pending.push(this.records.record(event, value));
      batch.pendingOps.push(event.op);
      batch.pendingBytes += value.length;
      batch.records += 1;
      this.options.metrics.bytes.inc(value.length);
      // Bounded memory: once a chunk is full it goes into the open Kafka transaction.
      if (batch.pendingBytes >= this.options.chunkBytes) await this.sendPending(batch);
    });
  }

  /**
   * The current Postgres transaction committed. It joins the batch, which commits now if it
   * is full or has lingered long enough, and otherwise within `lingerMs`.
   */
  endTransaction(done: CompletedTransaction): Promise<void> {
    return this.locked(async () => {
      this.insidePgTransaction = false;
      const batch = this.openBatch();
      batch.completed.push(done);
      const age = this.options.clock.nowMs() - batch.startedMs;
      if (
        batch.completed.length >= this.options.maxBatchTransactions ||
        batch.pendingBytes >= this.options.chunkBytes ||
        age >= this.options.lingerMs
      ) {
        await this.commitBatch();
      } else {
        this.timer ??= setTimeout(() => this.lingerExpired(), this.options.lingerMs - age);
      }
    });
  }

  /** A transaction already in Kafka (before the checkpoint) was received again and skipped. */
  skipped(commitEndLsn: Lsn): Promise<void> {
    return this.locked(async () => {
      this.insidePgTransaction = false;
      // Durable already; reported once whatever is in flight before it is.
      if (!this.batch) {
        await this.committing;
        this.options.onDurable(commitEndLsn);
      }
    });
  }

  /**
   * Ends the writer: commits the batch when it holds only whole Postgres transactions,
   * aborts it when one is cut off midway (it will be read again from the slot).
   */
  close(): Promise<void> {
    return this.lock.run(async () => {
      this.clearTimer();
      if (
        this.failure === undefined &&
        this.batch &&
        !this.insidePgTransaction &&
        this.batch.completed.length > 0
      ) {
        await this.commitBatch();
      } else {
        await this.abortBatch('shutdown inside a transaction');
      }
      await this.committing;
    });
  }

  /** Abandons the open batch after a failure (best effort). */
  async abandon(): Promise<void> {
    this.clearTimer();
    await this.abortBatch('failure');
    await this.committing?.catch(() => undefined);
  }

  /** Runs `work` under the lock, first raising any failure of work in flight. */
  private locked(work: () => Promise<void>): Promise<void> {
    return this.lock.run(async () => {
      if (this.failure !== undefined) throw this.failure;
      await work();
    });
  }

  private fail(e: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = e instanceof Error ? e : new Error(String(e));
    this.options.onError(this.failure);
  }

  private openBatch(): Batch {
    this.batch ??= {
      transaction: undefined,
      pending: [],
      pendingOps: [],
      pendingBytes: 0,
      records: 0,
      completed: [],
      startedMs: this.options.clock.nowMs(),
      inflight: undefined,
    };
    return this.batch;
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private lingerExpired(): void {
    this.timer = undefined;
    this.lock
      .run(async () => {
        if (
          this.failure === undefined &&
          this.batch &&
          !this.insidePgTransaction &&
          this.batch.completed.length > 0
        ) {
          await this.commitBatch();
        }
      })
      .catch((e: unknown) => this.fail(e));
  }

  /** The batch's Kafka transaction, begun once the previous batch has committed. */
  private async transactionOf(batch: Batch): Promise<KafkaTransaction> {
    if (!batch.transaction) {
      // One transaction at a time per producer: the previous batch's commit comes first.
      await this.committing;
      if (this.failure !== undefined) throw this.failure;
      batch.transaction = await this.options.producer.begin();
    }
    return batch.transaction;
  }

  /** Starts sending the batch's pending chunk once its previous chunk was acknowledged. */
  private async sendPending(batch: Batch): Promise<void> {
    if (batch.pending.length === 0) return;
    const transaction = await this.transactionOf(batch);
    const records = batch.pending;
    const ops = batch.pendingOps;
    batch.pending = [];
    batch.pendingOps = [];
    batch.pendingBytes = 0;
    // Bounded memory: the chunk in flight must be acknowledged before the next one goes.
    await batch.inflight;
    if (this.failure !== undefined) throw this.failure;
    batch.inflight = transaction.send(records).then(
      () => {
        for (const op of ops) this.options.metrics.events.inc({ op });
      },
      (e: unknown) => this.fail(e),
    );
  }

  /**
   * Sends what is left of the batch and its checkpoint, then commits it in the background:
   * the next batch may be assembled meanwhile, and the slot advances when the commit lands.
   */
  private async commitBatch(): Promise<void> {
    const batch = this.batch;
    const last = batch?.completed.at(-1);
    if (!batch || !last) return;
    this.clearTimer();
    this.batch = undefined;
    const previous = this.committing;
    const started = this.options.clock.nowMs();

    if (batch.records === 0) {
      // Only transactions without captured changes: nothing to write, durable in order.
      this.track(Promise.resolve(previous).then(() => this.committed(batch, last, started)));
      return;
    }
    await this.sendPending(batch);
    const transaction = await this.transactionOf(batch);
    // Every event of the batch acknowledged before the checkpoint goes in and the commit.
    await batch.inflight;
    if (this.failure !== undefined) throw this.failure;
    await transaction.send([
      checkpointRecord(this.options.checkpointTopic, last, this.options.clock.now()),
    ]);
    this.track(
      transaction.commit().then(
        () => this.committed(batch, last, started),
        (e: unknown) => this.fail(e),
      ),
    );
  }

  /** Remembers a commit in flight until it settles. */
  private track(commit: Promise<void>): void {
    const tracked: Promise<void> = commit.finally(() => {
      if (this.committing === tracked) this.committing = undefined;
    });
    this.committing = tracked;
  }

  /** Kafka committed `batch`: record it and let the slot advance. */
  private committed(batch: Batch, last: CompletedTransaction, startedMs: number): void {
    const committedMs = this.options.clock.nowMs();
    const { metrics } = this.options;
    if (batch.records > 0) {
      metrics.produceLatency.observe((committedMs - startedMs) / 1000);
      metrics.kafkaTransactions.inc();
    }
    metrics.transactions.inc(batch.completed.length);
    for (const done of batch.completed) {
      metrics.commitToKafkaLatency.observe(
        Math.max(0, committedMs - Number(done.commitTimeUs / 1000n)) / 1000,
      );
    }
    metrics.lastCommittedLsn.set(Number(last.commitEndLsn));
    // The slot is acknowledged only after Kafka committed the transactions ending here.
    this.options.onDurable(last.commitEndLsn);
  }

  private async abortBatch(reason: string): Promise<void> {
    const batch = this.batch;
    this.batch = undefined;
    if (!batch?.transaction) return;
    await batch.inflight;
    this.options.log.info(
      { reason },
      'aborting the open Kafka transaction; its changes will be read again',
    );
    await batch.transaction.abort().catch((e: unknown) => {
      this.options.log.warn(
        { err: e },
        'could not abort the Kafka transaction; the broker will time it out',
      );
    });
  }

  /** Stores the full event in object storage and returns the encoded reference event. */
  private async claimCheck(event: ChangeEvent, value: Buffer): Promise<Buffer> {
    const store = this.options.claims;
    if (!store) {
      throw new BacktrackError(
        'CONFIG_INVALID',
        `a change of ${event.schema}.${event.table} is ${value.length} bytes, more than Kafka takes; set BACKTRACK_S3_BUCKET so capture can store it in object storage`,
      );
    }
    const key = `claims/${this.options.slot}/${event.commitLsn.toString(16).padStart(16, '0')}-${event.sequence}.avro`;
    const stored = await store.put(key, value, { contentType: 'application/avro' });
    this.options.metrics.claimChecks.inc();
    return encodeChangeEvent({
      ...event,
      before: null,
      after: null,
      claim: { key, sha256: stored.sha256, size: stored.size },
    });
  }
}
