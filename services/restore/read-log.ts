/**
 * Reads a plan's log in order and hands each event to the fold: the tenant's stream
 * (archived segments, then the Kafka tail) with the `_all` stream (truncates of every
 * tenant) merged in by position. Events whose row images were stored in object storage
 * (claim checks) are resolved on the way. Reading stops early once the tenant's stream is
 * past the target.
 */
import { readClaimCheck } from '../../shared/archive/claim-check.js';
import type { Keyring } from '../../shared/archive/encryption.js';
import { readSegment } from '../../shared/archive/segment-file.js';
import type { Segment } from '../../shared/catalog/segments.js';
import {
  type ChangeEvent,
  compareEventPosition,
  decodeChangeEvent,
} from '../../shared/events/index.js';
import type { IncomingRecord, KafkaPort } from '../../shared/kafka/index.js';
import type { ObjectStore } from '../../shared/s3/index.js';

import type { LogStream, RestorePlan } from './plan.js';
import type { RestoreTarget } from './target.js';

/** Where events and claim checks are read from. */
export interface LogSources {
  readonly kafka: KafkaPort;
  /** The archive (segments and snapshots). */
  readonly archive: ObjectStore;
  /** Where capture stored claim checks (its configured bucket and prefix). */
  readonly claims: ObjectStore;
  /** Decrypts encrypted segments and claim checks. */
  readonly keyring: Keyring;
}

/** What was read. */
export interface LogReadStats {
  segments: number;
  tailEvents: number;
  events: number;
  claimChecks: number;
}

/** Past this much after the target, a segment cannot hold events at or before it. */
const SKEW_US = 5_000_000n;

function pastTarget(segment: Segment, target: RestoreTarget): boolean {
  return target.kind === 'time'
    ? segment.minCommitTimeUs > target.us + SKEW_US
    : segment.minCommitLsn > target.lsn;
}

/** The value of a tail record of `tenant`'s stream; undefined for another tenant's. */
function tenantValue(record: IncomingRecord, tenant: string): Buffer | undefined {
  return record.key?.toString() === tenant && record.value ? record.value : undefined;
}

/** Most bytes of tail records read ahead, for all streams of a restore together. */
const READ_AHEAD_BYTES = 16 * 1024 * 1024;

/** What was read of a tail ahead of its turn: the tenant's records, and where to go on. */
interface TailAhead {
  /** The values of the tenant's records, in order. */
  readonly values: readonly Buffer[];
  /** The offset after the last record read ahead; the tail's end when it was read whole. */
  readonly next: bigint;
}

/**
 * The Kafka tails of a plan, read while the snapshot loads (joining a throw-away consumer
 * group alone costs several round trips). What is read ahead is held in memory up to
 * READ_AHEAD_BYTES; past that the read stops, and the rest is read in turn.
 */
export class ReadAhead {
  private readonly tails = new Map<LogStream, Promise<TailAhead>>();
  private readonly stop = new AbortController();

  constructor(
    plan: Pick<RestorePlan, 'streams'>,
    sources: LogSources,
    budgetBytes = READ_AHEAD_BYTES,
  ) {
    let bytes = 0;
    for (const stream of plan.streams) {
      const tail = stream.tail;
      if (!tail) continue;
      const values: Buffer[] = [];
      let next = tail.from;
      const read = sources.kafka
        .readRange(
          { topic: stream.topic, partition: stream.partition, from: tail.from, to: tail.to },
          (batch) => {
            for (const record of batch) {
              const value = tenantValue(record, stream.tenant);
              if (!value) continue;
              values.push(value);
              bytes += value.length;
            }
            const last = batch.at(-1);
            if (last) next = last.offset + 1n;
            if (bytes > budgetBytes) this.stop.abort();
          },
          { signal: this.stop.signal },
        )
        .then((): TailAhead => ({ values, next: this.stop.signal.aborted ? next : tail.to }));
      // Awaited in turn (or never, when the restore fails first): not an unhandled rejection.
      read.catch(() => undefined);
      this.tails.set(stream, read);
    }
  }

  /** What was read ahead of `stream`'s tail, once its read ended. */
  tail(stream: LogStream): Promise<TailAhead> | undefined {
    return this.tails.get(stream);
  }

  /** Stops reading ahead (the restore ended before it needed the tails). */
  cancel(): void {
    this.stop.abort();
  }
}

/** Every event of one stream, in order (segments, then the tail), via `emit`. */
async function readStream(
  stream: LogStream,
  target: RestoreTarget,
  sources: LogSources,
  stats: LogReadStats,
  emit: (event: ChangeEvent) => Promise<void>,
  ahead: ReadAhead | undefined,
): Promise<void> {
  for (const segment of stream.segments) {
    if (pastTarget(segment, target)) return;
    const stored = await sources.archive.get(segment.key);
    // Decoded block by block into the fold: a segment is never held decoded whole.
    await readSegment(stored, sources.keyring, segment.key, async (record) => {
      if (record.offset < stream.from || record.event.tenant !== stream.tenant) return;
      await emit(record.event);
    });
    stats.segments += 1;
  }
  if (!stream.tail) return;
  let from = stream.tail.from;
  const early = await ahead?.tail(stream);
  if (early) {
    for (const value of early.values) {
      stats.tailEvents += 1;
      await emit(decodeChangeEvent(value));
    }
    from = early.next;
  }
  if (from >= stream.tail.to) return;
  // Fed to the fold batch by batch as Kafka returns them: the tail is never held whole.
  await sources.kafka.readRange(
    {
      topic: stream.topic,
      partition: stream.partition,
      from,
      to: stream.tail.to,
    },
    async (records) => {
      for (const record of records) {
        const value = tenantValue(record, stream.tenant);
        if (!value) continue;
        stats.tailEvents += 1;
        await emit(decodeChangeEvent(value));
      }
    },
  );
}

/**
 * Reads the plan's log and calls `onEvent` for each event in position order. The `_all`
 * stream (rare truncates) is read first into memory and merged into the tenant's.
 */
export async function readLog(
  plan: Pick<RestorePlan, 'streams' | 'target'>,
  sources: LogSources,
  onEvent: (event: ChangeEvent) => void,
  ahead?: ReadAhead,
): Promise<LogReadStats> {
  const stats: LogReadStats = { segments: 0, tailEvents: 0, events: 0, claimChecks: 0 };
  const [mine, ...shared] = plan.streams;
  if (!mine) return stats;
  const pending: ChangeEvent[] = [];
  for (const stream of shared) {
    await readStream(
      stream,
      plan.target,
      sources,
      stats,
      (event) => {
        pending.push(event);
        return Promise.resolve();
      },
      ahead,
    );
  }
  pending.sort(compareEventPosition);
  let next = 0;
  const deliver = async (event: ChangeEvent): Promise<void> => {
    if (event.claim) stats.claimChecks += 1;
    onEvent(await readClaimCheck(sources.claims, event, sources.keyring));
    stats.events += 1;
  };
  await readStream(
    mine,
    plan.target,
    sources,
    stats,
    async (event) => {
      while (
        next < pending.length &&
        compareEventPosition(pending[next] as ChangeEvent, event) < 0
      ) {
        await deliver(pending[next++] as ChangeEvent);
      }
      await deliver(event);
    },
    ahead,
  );
  while (next < pending.length) await deliver(pending[next++] as ChangeEvent);
  return stats;
}
