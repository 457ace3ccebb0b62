/**
 * Writes the transaction log: one Kafka transaction holds the events of one or more whole
 * Postgres transactions and, last, the checkpoint record of the newest of them. Events go
 * into the open Kafka transaction in chunks as they arrive (never a whole Postgres
 * transaction in memory); the Kafka transaction commits when a batch is full, when it has
 * lingered long enough, or on shutdown. Only once Kafka committed is the slot told it may
 * advance.
 *
 * Overlap, within bounds: chunks are handed to the Kafka client without waiting for the
 * broker (its queue is bounded, so a chunk waits only for room there), and a closed
 * batch's last chunk, checkpoint and commit go to Kafka in the background while the next
 * batch fills (its Kafka transaction begins only after that commit), so the replication
 * stream is not held for a commit. Group commit: a batch that has lingered long enough
 * still fills while the previous commit is in flight, and commits as soon as it lands, so
 * under load each commit carries what arrived during the last one. At most two closed
 * batches wait for Kafka; past that the stream waits. A failure of anything in flight
 * surfaces at the writer's next operation and through `onError`; the Kafka commit waits
 * for every record and fails if any was not delivered.
 *
 * Every public method takes the writer's lock, which the linger timer shares, so a timed
 * commit never interleaves with an event being added.
 *
 * How far the slot may advance is not decided here but by positions (durability.ts): each
 * ended transaction is handed to the ledger, each batch sealed before its commit, and only
 * a Kafka commit makes a position durable; after any failure nothing does. Every batch ends
 * with its checkpoint record, and so does an idle advance (checkpointIdle), so the slot
 * never passes the checkpoint.
 */
import {
  CLAIM_CHECK_BYTES,
  type ClaimCheckSink,
  writeClaimCheck,
} from '../../shared/archive/claim-check.js';
import type { Clock } from '../../shared/clock.js';
import { BacktrackError } from '../../shared/errors.js';
import { type Checkpoint, checkpointRecord } from '../../shared/events/checkpoint.js';
import {
  type ChangeEvent,
  type ChangeOp,
  encodeChangeEvent,
  TxlogRecords,
} from '../../shared/events/index.js';
import type {
  KafkaTransaction,
  OutgoingRecord,
  TransactionalProducer,
} from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging.js';
import type { Lsn } from '../../shared/lsn.js';
import { Mutex } from '../../shared/mutex.js';

import { DurabilityLedger } from './durability.js';
import type { CaptureMetrics } from './metrics.js';

/**
 * The points on the commit path where tests stop the writer (BACKTRACK_FAILPOINTS kills the
 * process there; an in-process test may hold it there and kill the broker instead).
 */
export const CAPTURE_FAILPOINTS = {
  /** The batch's Kafka transaction has begun; its first chunk is about to go. */
  beforeFirstSend: 'capture.before-first-send',
  /** A chunk was handed over and the next chunk of the same transaction is about to go. */
  midChunk: 'capture.mid-chunk',
  /** Every earlier chunk of the batch was handed over; the last, with the checkpoint, is about to go. */
  beforeCheckpoint: 'capture.before-checkpoint',
  /** The checkpoint was handed over; the commit (a flush of every record, then EndTxn) is about to go. */
  beforeCommit: 'capture.before-commit',
  /** Kafka committed; the slot has not been told yet. */
  afterCommit: 'capture.after-commit',
} as const;

/** A failpoint of the writer. */
export type CaptureFailpoint = (typeof CAPTURE_FAILPOINTS)[keyof typeof CAPTURE_FAILPOINTS];

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
  /**
   * Where oversized row images go (claim checks, encrypted when a key is configured);
   * without it an oversized event stops capture.
   */
  readonly claims: ClaimCheckSink | undefined;
  readonly clock: Clock;
  readonly metrics: CaptureMetrics;
  readonly log: Logger;
  /** Where the session starts: the checkpoint it read (or the slot's position without one). */
  readonly start: Checkpoint;
  /** Testing only: called at each point of the commit path, awaited. */
  readonly failpoint?: (name: CaptureFailpoint) => void | Promise<void>;
  /** Called after Kafka committed everything up to `commitEndLsn`, in order. */
  onDurable(commitEndLsn: Lsn): void;
  /** Called when something in flight fails (the session must stop). */
  onError(error: unknown): void;
}

/** A Postgres transaction that ended. */
export interface CompletedTransaction extends Checkpoint {
  readonly events: number;
}

/** An idle advance: WAL up to `commitEndLsn` holds nothing to capture. */
interface IdleAdvance extends Checkpoint {
  readonly idle: true;
}

/** The batch being assembled: whole Postgres transactions bound for one Kafka transaction. */
interface Batch {
  /** Opened lazily, when the first chunk is sent (after the previous batch committed). */
  transaction: KafkaTransaction | undefined;
  pending: OutgoingRecord[];
  /** Events pending, by operation (counted once per chunk, not per event). */
  pendingOps: Map<ChangeOp, number>;
  pendingBytes: number;
  /** Records sent or pending in this batch. */
  records: number;
  completed: CompletedTransaction[];
  /** Set instead of `completed` for a batch that only checkpoints an idle position. */
  idle: IdleAdvance | undefined;
  startedMs: number;
  /** The chunk being handed over, if any; settles once the Kafka client holds it. */
  inflight: Promise<void> | undefined;
  /** Chunks handed to the Kafka transaction so far. */
  sentChunks: number;
}

/** Writes events and checkpoints into Kafka transactions. */
export class TxlogWriter {
  private readonly lock = new Mutex();
  private readonly records: TxlogRecords;
  private readonly ledger: DurabilityLedger;
  private batch: Batch | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The newest batch's commit, while in flight: the next Kafka transaction waits for it. */
  private committing: Promise<void> | undefined;
  /** Every batch commit in flight or waiting, oldest first. */
  private readonly commits: Promise<void>[] = [];
  /** The newest checkpoint written or read: an idle advance keeps its transaction fields. */
  private lastCheckpoint: Checkpoint;

  constructor(private readonly options: WriterOptions) {
    this.records = new TxlogRecords(options.txlogTopic, options.txlogPartitions);
    this.ledger = new DurabilityLedger(options.start.commitEndLsn);
    this.lastCheckpoint = options.start;
  }

  /** The first failure of something in flight; every later operation raises it. */
  private get failure(): Error | undefined {
    return this.ledger.failed();
  }

  /**
   * True when every position handed over is committed in Kafka and no Postgres transaction
   * is open (never after a failure): then WAL up to a keepalive's position holds nothing
   * that is not in Kafka. Derived from positions alone (durability.ts).
   */
  idle(): boolean {
    return this.ledger.idle();
  }

  /** The position durable in Kafka: the slot may be confirmed up to here and no further. */
  durable(): Lsn {
    return this.ledger.durable();
  }

  /** A Postgres transaction begins; its events follow. */
  beginTransaction(): Promise<void> {
    return this.locked(() => {
      this.ledger.begin();
      return Promise.resolve();
    });
  }

  /**
   * Accounts for WAL up to `walEnd` that holds nothing to capture (a keepalive's position
   * while idle): a checkpoint at `walEnd` goes into Kafka in a transaction of its own, and
   * the slot follows once it committed. Does nothing unless the writer is idle and `walEnd`
   * is past what was handed over; resolves once the checkpoint is on its way.
   */
  checkpointIdle(walEnd: Lsn): Promise<void> {
    return this.locked(async () => {
      if (!this.ledger.idle() || this.batch || walEnd <= this.ledger.handed()) return;
      this.ledger.hand(walEnd);
      const batch = this.openBatch();
      batch.idle = { ...this.lastCheckpoint, commitEndLsn: walEnd, idle: true };
      await this.commitBatch();
    });
  }

  /** Adds one event of the current Postgres transaction. */
  add(event: ChangeEvent): Promise<void> {
    return this.locked(async () => {
      const batch = this.openBatch();
      let value = encodeChangeEvent(event);
      if (value.length > CLAIM_CHECK_BYTES) value = await this.claimCheck(event, value);
      batch.pending.push(this.records.record(event, value));
      batch.pendingOps.set(event.op, (batch.pendingOps.get(event.op) ?? 0) + 1);
      batch.pendingBytes += value.length;
      batch.records += 1;
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
      this.ledger.hand(done.commitEndLsn);
      const batch = this.openBatch();
      batch.completed.push(done);
      const age = this.options.clock.nowMs() - batch.startedMs;
      if (batch.completed.length >= this.options.maxBatchTransactions) {
        await this.commitBatch();
      } else if (age >= this.options.lingerMs) {
        // Group commit: while a commit is in flight the batch goes on filling (its Kafka
        // transaction cannot begin before that commit anyway), and it commits as soon as
        // that commit lands (track), so each commit carries what arrived during the last.
        if (this.commits.length === 0) await this.commitBatch();
      } else {
        this.timer ??= setTimeout(() => this.lingerExpired(), this.options.lingerMs - age);
      }
    });
  }

  /**
   * A transaction already in Kafka (at or below the checkpoint the session started from) was
   * received again and skipped: durable already, nothing to write.
   */
  skipped(commitEndLsn: Lsn): Promise<void> {
    return this.locked(() => {
      this.ledger.skip(commitEndLsn);
      return Promise.resolve();
    });
  }

  /**
   * Ends the writer: commits the batch when it holds only whole Postgres transactions,
   * aborts it when one is cut off midway (it will be read again from the slot).
   */
  close(): Promise<void> {
    return this.lock.run(async () => {
      this.clearTimer();
      if (this.commitReady()) {
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
    return this.lock.run(() => {
      const failure = this.failure;
      return failure === undefined ? work() : Promise.reject(failure);
    });
  }

  private fail(e: unknown): void {
    if (this.failure !== undefined) return;
    // Terminal: from here on the ledger makes nothing durable, whatever settles later.
    this.ledger.fail(e instanceof Error ? e : new Error(String(e)));
    this.options.onError(this.failure);
  }

  /** The open batch holds whole Postgres transactions only, and nothing has failed. */
  private commitReady(): boolean {
    return (
      this.failure === undefined &&
      this.batch !== undefined &&
      !this.ledger.inTransaction() &&
      (this.batch.completed.length > 0 || this.batch.idle !== undefined)
    );
  }

  private openBatch(): Batch {
    this.batch ??= {
      transaction: undefined,
      pending: [],
      pendingOps: new Map(),
      pendingBytes: 0,
      records: 0,
      completed: [],
      idle: undefined,
      startedMs: this.options.clock.nowMs(),
      inflight: undefined,
      sentChunks: 0,
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
        // With a commit in flight, the batch commits when that one lands (track).
        if (this.commits.length === 0 && this.commitReady()) await this.commitBatch();
      })
      .catch((e: unknown) => this.fail(e));
  }

  /** A commit landed: the batch that filled meanwhile commits now if it has lingered. */
  private commitLanded(): void {
    if (this.commits.length > 0 || !this.batch) return;
    this.lock
      .run(async () => {
        const batch = this.batch;
        if (
          this.commits.length === 0 &&
          batch &&
          this.commitReady() &&
          this.options.clock.nowMs() - batch.startedMs >= this.options.lingerMs
        ) {
          await this.commitBatch();
        }
      })
      .catch((e: unknown) => this.fail(e));
  }

  /** Waits for `wait`, counting the time the caller (the replication stream) is held. */
  private async held(on: 'commit' | 'transaction' | 'chunk', wait: Promise<void>): Promise<void> {
    const started = this.options.clock.nowMs();
    await wait;
    const heldMs = this.options.clock.nowMs() - started;
    if (heldMs > 0) this.options.metrics.heldSeconds.inc({ on }, heldMs / 1000);
  }

  /** The batch's Kafka transaction, begun once the previous batch has committed. */
  private async transactionOf(batch: Batch): Promise<KafkaTransaction> {
    if (!batch.transaction) {
      // One transaction at a time per producer: the previous batch's commit comes first.
      if (this.committing) await this.held('transaction', this.committing);
      if (this.failure !== undefined) throw this.failure;
      batch.transaction = await this.options.producer.begin();
    }
    return batch.transaction;
  }

  /** Starts handing the batch's pending chunk over once its previous chunk is. */
  private async sendPending(batch: Batch): Promise<void> {
    if (batch.pending.length === 0) return;
    const transaction = await this.transactionOf(batch);
    const records = batch.pending;
    const ops = batch.pendingOps;
    const bytes = batch.pendingBytes;
    const first = batch.sentChunks === 0;
    batch.pending = [];
    batch.pendingOps = new Map();
    batch.pendingBytes = 0;
    batch.sentChunks += 1;
    // Bounded memory: a chunk goes once the previous one is in the client's bounded queue.
    if (batch.inflight) await this.held('chunk', batch.inflight);
    if (this.failure !== undefined) throw this.failure;
    await this.failpoint(first ? CAPTURE_FAILPOINTS.beforeFirstSend : CAPTURE_FAILPOINTS.midChunk);
    batch.inflight = transaction.produce(records).then(
      () => this.sent(ops, bytes),
      (e: unknown) => this.fail(e),
    );
  }

  /**
   * Closes the batch and hands it to a commit of its own in the background: the rest of its
   * events go into its Kafka transaction together with its checkpoint, then it commits, and
   * the slot advances when the commit lands. Meanwhile the replication stream goes on and
   * the next batch fills: the stream waits only when two batches already wait for Kafka.
   */
  private async commitBatch(): Promise<void> {
    const batch = this.batch;
    const last = batch?.idle ?? batch?.completed.at(-1);
    if (!batch || !last) return;
    this.clearTimer();
    this.batch = undefined;
    // From here the batch awaits its Kafka commit: nothing past the previous batch is durable.
    this.ledger.seal(last.commitEndLsn);
    const started = this.options.clock.nowMs();
    // Bounded memory: one batch commits, one more may wait behind it, the next one fills.
    for (let oldest = this.commits[0]; this.commits.length >= 2 && oldest; oldest = this.commits[0])
      await this.held('commit', oldest);
    if (this.failure !== undefined) throw this.failure;

    const records = [
      ...batch.pending,
      checkpointRecord(this.options.checkpointTopic, last, this.options.clock.now()),
    ];
    const ops = batch.pendingOps;
    const bytes = batch.pendingBytes;
    batch.pending = [];
    batch.pendingOps = new Map();
    batch.pendingBytes = 0;
    const previous = this.committing;
    this.track(
      (async () => {
        // One Kafka transaction at a time per producer: the previous batch's commit first.
        await previous;
        if (this.failure !== undefined) return;
        const first = batch.transaction === undefined;
        const transaction = (batch.transaction ??= await this.options.producer.begin());
        // The batch's earlier chunk is handed over before the last one goes.
        await batch.inflight;
        if (this.failure !== undefined) return;
        if (first) await this.failpoint(CAPTURE_FAILPOINTS.beforeFirstSend);
        await this.failpoint(CAPTURE_FAILPOINTS.beforeCheckpoint);
        await transaction.produce(records);
        this.sent(ops, bytes);
        await this.failpoint(CAPTURE_FAILPOINTS.beforeCommit);
        // Kafka commits only once every record of the transaction was delivered.
        await transaction.commit();
        await this.failpoint(CAPTURE_FAILPOINTS.afterCommit);
        this.committed(batch, last, started);
      })().catch((e: unknown) => this.fail(e)),
    );
  }

  /** Counts a chunk the Kafka client took (per chunk: a metric update costs as much as an event). */
  private sent(ops: ReadonlyMap<ChangeOp, number>, bytes: number): void {
    for (const [op, n] of ops) this.options.metrics.events.inc({ op }, n);
    if (bytes > 0) this.options.metrics.bytes.inc(bytes);
  }

  /** Remembers a batch's commit until it settles (it never rejects: failures go to fail()). */
  private track(commit: Promise<void>): void {
    const tracked: Promise<void> = commit.finally(() => {
      const index = this.commits.indexOf(tracked);
      if (index >= 0) void this.commits.splice(index, 1);
      if (this.committing === tracked) this.committing = undefined;
      this.commitLanded();
    });
    this.commits.push(tracked);
    this.committing = tracked;
  }

  /** Kafka committed `batch`: record it and let the slot advance as far as the ledger says. */
  private committed(batch: Batch, last: Checkpoint, startedMs: number): void {
    // The slot is acknowledged only after Kafka committed the transactions ending here, and
    // only if every earlier commit succeeded (the ledger refuses anything after a failure).
    const durable = this.ledger.committed(last.commitEndLsn);
    if (durable === undefined) return;
    this.lastCheckpoint = last;
    const committedMs = this.options.clock.nowMs();
    const { metrics } = this.options;
    if (batch.records > 0) {
      metrics.produceLatency.observe((committedMs - startedMs) / 1000);
    }
    metrics.kafkaTransactions.inc();
    // Transactions without a change (a logical decoding message alone, e.g. a restore's
    // probe from anywhere in the database) move the checkpoint and are not counted.
    const captured = batch.completed.filter((done) => done.events > 0);
    metrics.transactions.inc(captured.length);
    for (const done of captured) {
      metrics.commitToKafkaLatency.observe(
        Math.max(0, committedMs - Number(done.commitTimeUs / 1000n)) / 1000,
      );
    }
    metrics.lastCommittedLsn.set(Number(durable));
    this.options.onDurable(durable);
  }

  /** A failpoint of the commit path (testing only); any failure it throws is the writer's. */
  private async failpoint(name: CaptureFailpoint): Promise<void> {
    await this.options.failpoint?.(name);
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

  /** Stores the full event as a claim check and returns the encoded reference event. */
  private async claimCheck(event: ChangeEvent, value: Buffer): Promise<Buffer> {
    const sink = this.options.claims;
    if (!sink) {
      throw new BacktrackError(
        'CONFIG_INVALID',
        `a change of ${event.schema}.${event.table} is ${value.length} bytes, more than Kafka takes; set BACKTRACK_S3_BUCKET so capture can store it in object storage`,
      );
    }
    const reference = await writeClaimCheck(sink, this.options.slot, event, value);
    this.options.metrics.claimChecks.inc();
    return encodeChangeEvent(reference);
  }
}
