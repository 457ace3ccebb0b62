/**
 * Where capture stands, as positions (pure): the one place that decides how far the slot may
 * be confirmed. Like Debezium's offset context, it is told facts in order and derives
 * durability from them, never from "is something in flight" flags read at the wrong moment.
 *
 *   handed     commit end LSN of the last Postgres transaction handed to the writer (or of
 *              an idle position taken into a checkpoint);
 *   committed  the end up to which Kafka committed, every earlier commit having succeeded;
 *   open       a Postgres transaction has begun and not ended;
 *   sealed     ends of the batches closed for commit, oldest first (every batch writes at
 *              least its checkpoint record, so each becomes durable by a Kafka commit alone);
 *   failure    the first failure, terminal: nothing becomes durable after it.
 *
 * The slot may be confirmed to `committed` only. A keepalive's WAL end is accounted for only
 * when nothing is open and handed = committed (everything handed over is in Kafka), and even
 * then it goes through a checkpoint in Kafka first (the writer seals it like a batch), so the
 * slot never passes the checkpoint.
 */
import { BacktrackError } from '../../shared/errors.js';
import { formatLsn, type Lsn } from '../../shared/lsn.js';

/** The positions of one capture session. */
export class DurabilityLedger {
  private handedEnd: Lsn;
  private committedEnd: Lsn;
  private open = false;
  private readonly sealed: Lsn[] = [];
  private failure: Error | undefined;

  /** `start`: the position the session streams from, durable already (the checkpoint). */
  constructor(start: Lsn) {
    this.handedEnd = start;
    this.committedEnd = start;
  }

  /** The end up to which everything is in Kafka: the only position the slot may be confirmed to. */
  durable(): Lsn {
    return this.committedEnd;
  }

  /** The end of the last transaction handed over. */
  handed(): Lsn {
    return this.handedEnd;
  }

  /** The first failure, if any. */
  failed(): Error | undefined {
    return this.failure;
  }

  /**
   * True when every WAL position received so far is accounted for in Kafka: no failure, no
   * open transaction, and everything handed over committed.
   */
  idle(): boolean {
    return this.failure === undefined && !this.open && this.handedEnd === this.committedEnd;
  }

  /** True while a Postgres transaction has begun and not ended. */
  inTransaction(): boolean {
    return this.open;
  }

  /** A Postgres transaction begins. */
  begin(): void {
    this.requireHealthy();
    this.open = true;
  }

  /**
   * A Postgres transaction (or an idle position) ended at `end` and joined the batch being
   * assembled. Positions only move forward.
   */
  hand(end: Lsn): void {
    this.requireHealthy();
    if (end <= this.handedEnd) {
      throw new BacktrackError(
        'PROTOCOL_VIOLATION',
        `a transaction ending at ${formatLsn(end)} arrived after one ending at ${formatLsn(this.handedEnd)}`,
      );
    }
    this.open = false;
    this.handedEnd = end;
  }

  /** A transaction Kafka already holds (at or below the start) was received again and skipped. */
  skip(end: Lsn): void {
    this.requireHealthy();
    if (end > this.committedEnd) {
      throw new BacktrackError(
        'PROTOCOL_VIOLATION',
        `a transaction ending at ${formatLsn(end)} was skipped as already published, but only ${formatLsn(this.committedEnd)} is durable`,
      );
    }
    this.open = false;
  }

  /** The batch ending at `end` is closed and goes to Kafka: its commit is awaited next. */
  seal(end: Lsn): void {
    this.requireHealthy();
    const last = this.sealed.at(-1) ?? this.committedEnd;
    if (end <= last || end > this.handedEnd) {
      throw new BacktrackError(
        'PROTOCOL_VIOLATION',
        `a batch ending at ${formatLsn(end)} was sealed after ${formatLsn(last)} with ${formatLsn(this.handedEnd)} handed over`,
      );
    }
    this.sealed.push(end);
  }

  /**
   * Kafka committed the batch ending at `end`, the oldest sealed one. Returns the new durable
   * position; undefined after a failure, when nothing advances whatever Kafka says.
   */
  committed(end: Lsn): Lsn | undefined {
    if (this.failure !== undefined) return undefined;
    const head = this.sealed[0];
    if (head !== end) {
      throw new BacktrackError(
        'PROTOCOL_VIOLATION',
        `Kafka committed a batch ending at ${formatLsn(end)}, but the oldest batch awaiting commit ends at ${head === undefined ? 'none' : formatLsn(head)}`,
      );
    }
    this.sealed.shift();
    this.committedEnd = end;
    return end;
  }

  /** Something failed: the session is over, nothing is confirmed from now on. */
  fail(error: Error): void {
    this.failure ??= error;
  }

  private requireHealthy(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
