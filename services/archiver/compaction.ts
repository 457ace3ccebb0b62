/**
 * Compaction: merges a tenant's adjacent small segments of one partition into one, then
 * deletes the objects of compacted segments once their grace period is over.
 *
 *   for each planned group (compaction-plan.ts):
 *     1. read each segment, check its SHA-256 against the catalog, decode it;
 *     2. write the merged segment (its metadata comes from the catalog rows, so records
 *        stream through: only the compressed output is held) and upload it;
 *     3. in one catalog transaction, record it and mark the old ones compacted.
 *   then delete objects whose grace period passed, and forget their rows.
 *
 * History is never lost: the old segments stay readable until after the merged one is
 * recorded and the grace period passed, and a segment that fails its checksum is never
 * merged (verify reports it). One compaction runs at a time (an advisory lock), so two
 * runs never write the same merged key.
 */
import { sha256Hex } from '../../shared/archive/checksum.js';
import { rangeGaps, type OffsetGap } from '../../shared/archive/coverage.js';
import type { Keyring } from '../../shared/archive/encryption.js';
import { segmentKey } from '../../shared/archive/keys.js';
import {
  decodeSegment,
  SEGMENT_CODEC,
  type SegmentMetadata,
  SegmentWriter,
} from '../../shared/archive/segment-file.js';
import { listRanges } from '../../shared/catalog/archive-ranges.js';
import {
  forgetSegments,
  replaceSegments,
  segmentsDueForDeletion,
} from '../../shared/catalog/compaction.js';
import { listSegments, type Segment } from '../../shared/catalog/segments.js';
import { BacktrackError, describeError } from '../../shared/errors.js';
import { EVENT_SCHEMA_FINGERPRINT } from '../../shared/events/index.js';
import type { Logger } from '../../shared/logging.js';
import type { PgPool } from '../../shared/pg/index.js';
import type { ObjectStore } from '../../shared/s3/index.js';

import { planCompaction } from './compaction-plan.js';
import type { ArchiverMetrics } from './metrics.js';

/** What compaction needs. */
export interface CompactionDeps {
  readonly catalog: PgPool;
  readonly store: ObjectStore;
  readonly keyring: Keyring;
  readonly targetBytes: number;
  readonly graceMs: number;
  readonly log: Logger;
  readonly metrics?: ArchiverMetrics;
}

/** One merge, as reported. */
export interface MergeOutcome {
  readonly key: string;
  readonly tenant: string;
  readonly replaced: readonly string[];
  readonly events: number;
  readonly status: 'merged' | 'skipped' | 'failed';
  readonly message?: string;
}

/** What a compaction run did, per item. */
export interface CompactionReport {
  /** False when another compaction held the lock (nothing was done). */
  readonly ran: boolean;
  readonly merges: readonly MergeOutcome[];
  readonly deletedObjects: number;
  readonly deleteFailures: readonly { key: string; message: string }[];
}

const LOCK = 'backtrack.compaction';

function mergedMetadata(group: readonly Segment[]): SegmentMetadata {
  const first = group[0];
  const last = group.at(-1);
  if (!first || !last) throw new BacktrackError('INTERNAL', 'empty compaction group');
  const min = <T>(values: T[]): T => values.reduce((a, b) => (b < a ? b : a));
  const max = <T>(values: T[]): T => values.reduce((a, b) => (b > a ? b : a));
  return {
    tenant: first.tenant,
    topic: first.topic,
    partition: first.partition,
    rangeFrom: first.rangeFrom,
    rangeTo: last.rangeTo,
    firstOffset: first.firstOffset,
    lastOffset: last.lastOffset,
    eventCount: group.reduce((n, s) => n + s.eventCount, 0),
    minCommitLsn: min(group.map((s) => s.minCommitLsn)),
    maxCommitLsn: max(group.map((s) => s.maxCommitLsn)),
    minCommitTimeUs: min(group.map((s) => s.minCommitTimeUs)),
    maxCommitTimeUs: max(group.map((s) => s.maxCommitTimeUs)),
    eventSchemaFingerprint: EVENT_SCHEMA_FINGERPRINT,
  };
}

/** Merges one group; throws when a source segment is missing or corrupt. */
async function merge(deps: CompactionDeps, group: readonly Segment[]): Promise<MergeOutcome> {
  const metadata = mergedMetadata(group);
  const writer = new SegmentWriter(metadata, { encryptWith: deps.keyring.current });
  for (const segment of group) {
    const bytes = await deps.store.get(segment.key);
    if (sha256Hex(bytes) !== segment.sha256) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `segment ${segment.key} does not match its checksum; it is left as it is: run \`backtrack verify --tenant ${segment.tenant}\``,
      );
    }
    const decoded = await decodeSegment(bytes, deps.keyring, segment.key);
    for (const record of decoded.records) writer.write(record);
  }
  const encoded = await writer.end();
  const key = segmentKey(
    metadata.tenant,
    metadata.partition,
    metadata.firstOffset,
    metadata.lastOffset,
  );
  const uploaded = await deps.store.put(key, encoded.bytes, {
    contentType: encoded.keyId ? 'application/octet-stream' : 'avro/binary',
    metadata: { 'backtrack-compacted-from': String(group.length) },
  });
  // The merged segment is stored; the catalog switches to it in one transaction.
  const replaced = await replaceSegments(
    deps.catalog,
    {
      key,
      metadata,
      sizeBytes: uploaded.size,
      sha256: uploaded.sha256,
      codec: SEGMENT_CODEC,
      keyId: encoded.keyId,
    },
    group,
    deps.graceMs,
  );
  return {
    key,
    tenant: metadata.tenant,
    replaced: group.map((s) => s.key),
    events: metadata.eventCount,
    status: replaced ? 'merged' : 'skipped',
    ...(replaced ? {} : { message: 'the segments changed meanwhile' }),
  };
}

async function gapsByPartition(
  deps: CompactionDeps,
  segments: readonly Segment[],
): Promise<Map<string, OffsetGap[]>> {
  const gaps = new Map<string, OffsetGap[]>();
  for (const s of segments) {
    const id = `${s.topic}\0${s.partition}`;
    if (!gaps.has(id))
      gaps.set(id, rangeGaps(await listRanges(deps.catalog, s.topic, s.partition)));
  }
  return gaps;
}

/** Deletes the objects of compacted segments past their grace period, then their rows. */
async function deleteExpired(
  deps: CompactionDeps,
): Promise<Pick<CompactionReport, 'deletedObjects' | 'deleteFailures'>> {
  const due = await segmentsDueForDeletion(deps.catalog);
  if (due.length === 0) return { deletedObjects: 0, deleteFailures: [] };
  const result = await deps.store.deleteMany(due);
  const failed = new Set(result.failed.map((f) => f.key));
  // A row is forgotten only once its object is gone, so a failed delete is retried next run.
  const deleted = due.filter((key) => !failed.has(key));
  await forgetSegments(deps.catalog, deleted);
  deps.metrics?.deletedObjects.inc(deleted.length);
  return { deletedObjects: deleted.length, deleteFailures: result.failed };
}

/** Runs compaction over every tenant, or one. Reports per merge; never stops halfway. */
export async function runCompaction(
  deps: CompactionDeps,
  options: { tenant?: string } = {},
): Promise<CompactionReport> {
  const session = await deps.catalog.connect();
  try {
    const lock = await session.query('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [
      LOCK,
    ]);
    if (lock.rows[0]?.ok !== true) {
      deps.log.info('another compaction is running; this one does nothing');
      return { ran: false, merges: [], deletedObjects: 0, deleteFailures: [] };
    }
    try {
      const segments = await listSegments(deps.catalog, { tenant: options.tenant });
      const gaps = await gapsByPartition(deps, segments);
      const groups = planCompaction(
        segments,
        (topic, partition) => gaps.get(`${topic}\0${partition}`) ?? [],
        deps.targetBytes,
      );
      const merges: MergeOutcome[] = [];
      for (const group of groups) {
        try {
          const outcome = await merge(deps, group);
          if (outcome.status === 'merged') deps.metrics?.compactedSegments.inc(group.length);
          merges.push(outcome);
        } catch (e) {
          deps.log.warn({ err: e, segments: group.length }, 'compaction of a group failed');
          const first = group[0];
          merges.push({
            key: '',
            tenant: first?.tenant ?? '',
            replaced: group.map((s) => s.key),
            events: 0,
            status: 'failed',
            message: describeError(e),
          });
        }
      }
      return { ran: true, merges, ...(await deleteExpired(deps)) };
    } finally {
      await session.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [LOCK]);
    }
  } finally {
    session.release();
  }
}
