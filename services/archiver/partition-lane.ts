/**
 * The archiver's work on one partition: its buffer, the one flush in flight, and the
 * start position. Batches are added as they arrive; a range is sealed and flushed when it
 * is due (size or age), at most one flush in flight, so memory stays near two ranges per
 * partition: a batch that finds the buffer full while a flush is in flight waits for it
 * (heartbeating), which holds the consumer back (back-pressure).
 *
 * Start position (after start, a rebalance or a conflict): max(the consumer's position,
 * the catalog's end of the partition). Records before the catalog's end were archived by
 * an earlier flush whose offset commit did not happen (a crash between the two), so they
 * are skipped rather than archived twice.
 */
import { archivedTo } from '../../shared/catalog/archive-ranges.js';
import type { Clock } from '../../shared/clock.js';
import { isBacktrackError } from '../../shared/errors.js';
import type { BatchControls, IncomingBatch } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging.js';
import { Mutex } from '../../shared/mutex.js';
import { retry } from '../../shared/retry.js';

import { type FlushDeps, flushRange } from './flush.js';
import { type FlushLimits, type FlushReason, PartitionBuffer } from './partition-buffer.js';

/** What a lane needs beyond a flush's needs. */
export interface LaneDeps extends FlushDeps {
  readonly limits: FlushLimits;
  readonly clock: Clock;
  /** Moves the consumer's position (to re-read after a conflict). */
  readonly seek: (topic: string, partition: number, offset: bigint) => void;
  /** Stops the archiver: an error retrying cannot fix. */
  readonly onFatal: (error: unknown) => void;
  readonly stopping: () => boolean;
}

const BACKPRESSURE_POLL_MS = 2_000;

/** One partition's buffer and flushes. */
export class PartitionLane {
  private buffer: PartitionBuffer | undefined;
  /** Set after asking the consumer to re-read from the catalog's end: the next batch is where it landed. */
  private probe: bigint | undefined;
  private inFlight: Promise<void> | undefined;
  private archived: bigint | undefined;
  private highWatermark: bigint | undefined;
  private readonly mutex = new Mutex();
  private readonly log: Logger;

  constructor(
    private readonly deps: LaneDeps,
    readonly topic: string,
    readonly partition: number,
  ) {
    this.log = deps.log.child({ partition });
  }

  /** Adds a fetched batch; flushes when due; waits while the buffer is full and a flush runs. */
  async accept(batch: IncomingBatch, controls: BatchControls): Promise<void> {
    if (this.deps.stopping()) return;
    this.highWatermark = batch.highWatermark;
    await this.mutex.run(async () => {
      const buffer = await this.positionedAt(batch.fetchedOffset);
      buffer?.add(batch.records, batch.nextOffset, this.deps.clock.nowMs());
      this.flushIfDue();
    });
    while (!this.deps.stopping() && this.inFlight && this.isFull()) {
      await Promise.race([this.inFlight, sleep(BACKPRESSURE_POLL_MS)]);
      if (!controls.isRunning()) return;
      await controls.heartbeat();
      await this.mutex.run(() => Promise.resolve(this.flushIfDue()));
    }
    this.updateGauges();
  }

  /** The consumer moved past records without data (transaction markers). */
  async advance(fromOffset: bigint, nextOffset: bigint): Promise<void> {
    if (this.deps.stopping()) return;
    await this.mutex.run(async () => {
      const buffer = await this.positionedAt(fromOffset);
      buffer?.advance(nextOffset);
    });
  }

  /** Periodic check: flushes a range whose oldest event is old enough. */
  async tick(): Promise<void> {
    if (this.deps.stopping()) return;
    await this.mutex.run(() => Promise.resolve(this.flushIfDue()));
    this.updateGauges();
  }

  /**
   * Forgets the buffer (after a rebalance, or when a flush was refused): the next batch
   * starts again from the durable positions. Records buffered but not flushed are read again.
   */
  reset(): void {
    this.buffer = undefined;
    this.probe = undefined;
  }

  /** At shutdown: waits for the flush in flight, then flushes what is buffered, once. */
  async drain(): Promise<void> {
    await this.inFlight;
    await this.mutex.run(async () => {
      const sealed = this.buffer?.seal('shutdown');
      if (!sealed) return;
      const result = await flushRange(this.deps, sealed);
      this.archived = sealed.to;
      this.log.info(
        { to: sealed.to.toString(), events: result.events },
        'archiver flushed on shutdown',
      );
    });
  }

  /** When the oldest buffered event arrived (ms), or undefined when nothing waits. */
  oldestBufferedAt(): number | undefined {
    return this.buffer?.oldestAt;
  }

  private isFull(): boolean {
    return this.buffer?.due(this.deps.clock.nowMs(), this.deps.limits) === 'size';
  }

  /**
   * The buffer, positioned where the consumer is. It is created on first use at the
   * catalog's end of the partition. A consumer behind that end re-reads archived records,
   * which the buffer skips. A consumer ahead of it is first sent back to it once (it may be
   * a batch fetched before a rebalance or a refused flush); if it lands ahead again, the
   * offsets it skipped are gone from the log (retention): they become a gap, flushed up
   * to and reported, never hidden. Undefined: drop this batch.
   */
  private async positionedAt(fetchedOffset: bigint): Promise<PartitionBuffer | undefined> {
    if (!this.buffer) {
      // A flush of an earlier buffer may still be recording its range.
      await this.inFlight;
      const end = await retry(() => archivedTo(this.deps.catalog, this.topic, this.partition), {
        signal: this.deps.signal,
      });
      this.archived = end;
      if (end !== undefined && fetchedOffset > end && this.probe === undefined) {
        this.probe = end;
        this.deps.seek(this.topic, this.partition, end);
        return undefined;
      }
      this.probe = undefined;
      this.buffer = new PartitionBuffer(this.topic, this.partition, end ?? fetchedOffset);
      this.log.info(
        { archivedTo: end?.toString() ?? null, consumerAt: fetchedOffset.toString() },
        'archiver partition starts',
      );
    }
    const buffer = this.buffer;
    if (fetchedOffset > buffer.position) {
      this.deps.metrics.gaps.inc();
      this.log.error(
        { from: buffer.position.toString(), to: fetchedOffset.toString() },
        'the consumer skipped offsets it never read (log retention or an offset reset): they are a coverage gap',
      );
      if (buffer.events > 0) {
        await this.inFlight;
        this.startFlush(buffer, 'gap');
        await this.inFlight;
      }
      if (buffer !== this.buffer) return undefined;
      buffer.jumpTo(fetchedOffset);
    }
    return buffer;
  }

  /** Seals and flushes when due and no flush is in flight. Runs under the mutex. */
  private flushIfDue(): void {
    const buffer = this.buffer;
    if (!buffer || this.inFlight) return;
    const reason = buffer.due(this.deps.clock.nowMs(), this.deps.limits);
    if (reason) this.startFlush(buffer, reason);
  }

  private startFlush(buffer: PartitionBuffer, reason: FlushReason): void {
    // A buffer dropped by reset() is never flushed: its range may no longer follow the catalog's.
    if (buffer !== this.buffer) return;
    const sealed = buffer.seal(reason);
    if (!sealed) return;
    const startedMs = this.deps.clock.nowMs();
    this.inFlight = flushRange(this.deps, sealed)
      .then(
        (result) => {
          this.archived = sealed.to;
          this.deps.metrics.flushSeconds.observe((this.deps.clock.nowMs() - startedMs) / 1000);
          this.log.debug(
            { from: sealed.from.toString(), to: sealed.to.toString(), reason, ...result },
            'archiver range flushed',
          );
        },
        (e: unknown) => this.flushFailed(e, buffer),
      )
      .finally(() => {
        this.inFlight = undefined;
      });
  }

  private flushFailed(error: unknown, buffer: PartitionBuffer): void {
    if (this.deps.stopping()) {
      this.log.warn(
        { err: error },
        'archiver flush abandoned at shutdown; its records are read again on restart',
      );
      return;
    }
    if (!isBacktrackError(error, 'ARCHIVE_CONFLICT')) {
      this.deps.onFatal(error);
      return;
    }
    this.deps.metrics.conflicts.inc();
    this.log.warn(
      { err: error },
      'another archiver recorded this range; re-reading from the catalog',
    );
    // What is buffered after the refused range cannot follow it: drop it and read again
    // from the catalog's end (the next batch finds no buffer and seeks there).
    if (buffer === this.buffer) this.reset();
  }

  private updateGauges(): void {
    const labels = { partition: String(this.partition) };
    this.deps.metrics.bufferedBytes.set(labels, this.buffer?.bytes ?? 0);
    if (this.archived !== undefined) {
      this.deps.metrics.archivedOffset.set(labels, Number(this.archived));
      if (this.highWatermark !== undefined) {
        this.deps.metrics.lag.set(labels, Math.max(0, Number(this.highWatermark - this.archived)));
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
