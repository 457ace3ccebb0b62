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
import type { KafkaPort } from '../../shared/kafka/index.js';
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

/** Every event of one stream, in order (segments, then the tail), via `emit`. */
async function readStream(
  stream: LogStream,
  target: RestoreTarget,
  sources: LogSources,
  stats: LogReadStats,
  emit: (event: ChangeEvent) => Promise<void>,
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
  // Fed to the fold batch by batch as Kafka returns them: the tail is never held whole.
  await sources.kafka.readRange(
    {
      topic: stream.topic,
      partition: stream.partition,
      from: stream.tail.from,
      to: stream.tail.to,
    },
    async (records) => {
      for (const record of records) {
        if (record.key?.toString() !== stream.tenant || !record.value) continue;
        stats.tailEvents += 1;
        await emit(decodeChangeEvent(record.value));
      }
    },
  );
}

/**
 * Reads the plan's log and calls `onEvent` for each event in position order. The `_all`
 * stream (rare truncates) is read first into memory and merged into the tenant's.
 */
export async function readLog(
  plan: RestorePlan,
  sources: LogSources,
  onEvent: (event: ChangeEvent) => void,
): Promise<LogReadStats> {
  const stats: LogReadStats = { segments: 0, tailEvents: 0, events: 0, claimChecks: 0 };
  const [mine, ...shared] = plan.streams;
  if (!mine) return stats;
  const pending: ChangeEvent[] = [];
  for (const stream of shared) {
    await readStream(stream, plan.target, sources, stats, (event) => {
      pending.push(event);
      return Promise.resolve();
    });
  }
  pending.sort(compareEventPosition);
  let next = 0;
  const deliver = async (event: ChangeEvent): Promise<void> => {
    if (event.claim) stats.claimChecks += 1;
    onEvent(await readClaimCheck(sources.claims, event, sources.keyring));
    stats.events += 1;
  };
  await readStream(mine, plan.target, sources, stats, async (event) => {
    while (next < pending.length && compareEventPosition(pending[next] as ChangeEvent, event) < 0) {
      await deliver(pending[next++] as ChangeEvent);
    }
    await deliver(event);
  });
  while (next < pending.length) await deliver(pending[next++] as ChangeEvent);
  return stats;
}
