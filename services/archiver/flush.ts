/**
 * One flush of a sealed partition range, in the order that makes a crash anywhere repeat
 * work and never lose or double-count an event:
 *   1. encode a segment per tenant with events in the range, and upload each (with its
 *      SHA-256, verified by the server);
 *   2. record the range and its segments in ONE catalog transaction (idempotent);
 *   3. commit the Kafka offset (= the range's end).
 * Uploads and the catalog step are retried with backoff for as long as the failure is
 * retriable (object storage or catalog down), so no offset is ever committed for data
 * that is not written. A failpoint after each step lets tests kill the process there.
 */
import { sha256Hex } from '../../shared/archive/checksum.js';
import type { MasterKey } from '../../shared/archive/encryption.js';
import { summarizeEvent } from '../../shared/archive/event-summary.js';
import { encodeTenant, segmentKey } from '../../shared/archive/keys.js';
import {
  encodeSegmentEntries,
  SEGMENT_CODEC,
  type SegmentEntriesInput,
  type SegmentEntry,
} from '../../shared/archive/segment-file.js';
import {
  type NewRange,
  recordArchiveRange,
  type RecordOutcome,
} from '../../shared/catalog/archive-ranges.js';
import type { NewSegment } from '../../shared/catalog/segments.js';
import { BacktrackError, describeError } from '../../shared/errors.js';
import { EVENT_SCHEMA_FINGERPRINT } from '../../shared/events/index.js';
import type { Logger } from '../../shared/logging.js';
import type { PgPool } from '../../shared/pg/index.js';
import { type BackoffPolicy, retry } from '../../shared/retry.js';
import type { ObjectStore } from '../../shared/s3/index.js';

import type { ArchiverMetrics } from './metrics.js';
import type { SealedRange } from './partition-buffer.js';

/** Named points of a flush where a test may have the process killed. */
export const FLUSH_FAILPOINTS = {
  /** One segment of several uploaded. */
  afterFirstUpload: 'archiver.after-first-upload',
  /** Every segment uploaded, nothing recorded. */
  afterUpload: 'archiver.after-upload',
  /** Range and segments recorded, Kafka offset not committed. */
  afterCatalog: 'archiver.after-catalog',
  /** Kafka offset committed. */
  afterCommit: 'archiver.after-commit',
} as const;

/** What a flush needs. */
export interface FlushDeps {
  readonly store: ObjectStore;
  readonly catalog: PgPool;
  /** Commits `offset` as the group's next offset of the partition. */
  readonly commit: (topic: string, partition: number, offset: bigint) => Promise<void>;
  /** Encrypts new segments when set. */
  readonly encryptWith: MasterKey | undefined;
  readonly metrics: ArchiverMetrics;
  readonly log: Logger;
  /** Kills the process at a named point when a test asked for it. */
  readonly failpoint: (name: string) => void;
  /** Aborted when the archiver stops: retries give up. */
  readonly signal: AbortSignal;
  readonly policy?: BackoffPolicy;
}

/** What a flush did. */
export interface FlushResult {
  readonly outcome: RecordOutcome;
  readonly segments: number;
  readonly events: number;
  readonly storedBytes: number;
}

const FOREVER: BackoffPolicy = { initialMs: 250, maxMs: 10_000, maxAttempts: Infinity };
const COMMIT_ATTEMPTS: BackoffPolicy = { initialMs: 250, maxMs: 2_000, maxAttempts: 5 };

/**
 * Groups the range's records by tenant (the event's own tenant field), reading only the
 * fields segment metadata needs: the events' bytes go into the segments as they are.
 */
export function segmentInputs(sealed: SealedRange): SegmentEntriesInput[] {
  const byTenant = new Map<string, SegmentEntry[]>();
  for (const record of sealed.records) {
    const where = `${sealed.topic}[${sealed.partition}]@${record.offset}`;
    if (record.schema !== undefined && record.schema !== EVENT_SCHEMA_FINGERPRINT) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `record ${where} is encoded with event schema ${record.schema}, and this archiver knows ${EVENT_SCHEMA_FINGERPRINT}: run an archiver of the same version as capture`,
        { details: { partition: sealed.partition, offset: record.offset.toString() } },
      );
    }
    let summary;
    try {
      summary = summarizeEvent(record.value);
    } catch (cause) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `record ${where} is not a change event (${describeError(cause)}); the archiver stops rather than skip it: inspect the record and the producer that wrote it`,
        { cause, details: { partition: sealed.partition, offset: record.offset.toString() } },
      );
    }
    const list = byTenant.get(summary.tenant) ?? [];
    list.push({ offset: record.offset, event: record.value, summary });
    byTenant.set(summary.tenant, list);
  }
  return [...byTenant]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([tenant, entries]) => ({
      tenant,
      topic: sealed.topic,
      partition: sealed.partition,
      rangeFrom: sealed.from,
      rangeTo: sealed.to,
      entries,
    }));
}

/** Statistics of the whole range over its segments. */
function rangeOf(sealed: SealedRange, segments: readonly NewSegment[]): NewRange {
  const pick = <T>(values: T[], better: (a: T, b: T) => boolean): T | undefined =>
    values.reduce<T | undefined>(
      (best, v) => (best === undefined || better(v, best) ? v : best),
      undefined,
    );
  const meta = segments.map((s) => s.metadata);
  return {
    topic: sealed.topic,
    partition: sealed.partition,
    from: sealed.from,
    to: sealed.to,
    eventCount: meta.reduce((n, m) => n + m.eventCount, 0),
    minCommitLsn: pick(
      meta.map((m) => m.minCommitLsn),
      (a, b) => a < b,
    ),
    maxCommitLsn: pick(
      meta.map((m) => m.maxCommitLsn),
      (a, b) => a > b,
    ),
    minCommitTimeUs: pick(
      meta.map((m) => m.minCommitTimeUs),
      (a, b) => a < b,
    ),
    maxCommitTimeUs: pick(
      meta.map((m) => m.maxCommitTimeUs),
      (a, b) => a > b,
    ),
  };
}

/** Flushes a sealed range: upload → catalog → commit. Rejects only when it cannot go on. */
export async function flushRange(deps: FlushDeps, sealed: SealedRange): Promise<FlushResult> {
  const { log, metrics } = deps;
  const stepRetry = <T>(step: string, policy: BackoffPolicy, operation: () => Promise<T>) =>
    retry(operation, {
      policy,
      signal: deps.signal,
      onRetry: (e, attempt, delayMs) => {
        metrics.retries.inc({ step });
        log.warn(
          { err: e, step, attempt, delayMs, partition: sealed.partition },
          'archiver step failed; retrying',
        );
      },
    });

  const segments: NewSegment[] = [];
  for (const input of segmentInputs(sealed)) {
    const encoded = await encodeSegmentEntries(input, { encryptWith: deps.encryptWith });
    const m = encoded.metadata;
    const key = segmentKey(m.tenant, m.partition, m.firstOffset, m.lastOffset);
    const sha256 = sha256Hex(encoded.bytes);
    const uploaded = await stepRetry('upload', deps.policy ?? FOREVER, () =>
      deps.store.put(key, encoded.bytes, {
        contentType: encoded.keyId ? 'application/octet-stream' : 'avro/binary',
        metadata: {
          'backtrack-tenant': encodeTenant(m.tenant),
          'backtrack-partition': String(m.partition),
          'backtrack-range': `${m.rangeFrom}-${m.rangeTo}`,
          'backtrack-events': String(m.eventCount),
          'backtrack-sha256': sha256,
          'backtrack-key-id': encoded.keyId ?? '',
        },
      }),
    );
    segments.push({
      key,
      metadata: m,
      sizeBytes: uploaded.size,
      sha256: uploaded.sha256,
      codec: SEGMENT_CODEC,
      keyId: encoded.keyId,
    });
    if (segments.length === 1) deps.failpoint(FLUSH_FAILPOINTS.afterFirstUpload);
  }
  deps.failpoint(FLUSH_FAILPOINTS.afterUpload);

  // Every segment of the range is stored; only now may the catalog say the range is archived.
  const outcome = await stepRetry('catalog', deps.policy ?? FOREVER, () =>
    recordArchiveRange(deps.catalog, rangeOf(sealed, segments), segments),
  );
  deps.failpoint(FLUSH_FAILPOINTS.afterCatalog);

  // The offset moves only after the catalog committed the range ending here. A failed
  // commit is harmless: on restart the consumer seeks to max(committed, catalog end).
  await stepRetry('commit', COMMIT_ATTEMPTS, () =>
    deps.commit(sealed.topic, sealed.partition, sealed.to),
  ).catch((e: unknown) =>
    log.warn(
      { err: e, partition: sealed.partition, offset: sealed.to.toString() },
      'offset commit failed; the catalog position governs the restart',
    ),
  );
  deps.failpoint(FLUSH_FAILPOINTS.afterCommit);

  const events = segments.reduce((n, s) => n + s.metadata.eventCount, 0);
  const storedBytes = segments.reduce((n, s) => n + s.sizeBytes, 0);
  if (outcome === 'recorded') {
    metrics.events.inc(events);
    metrics.segments.inc(segments.length);
    for (const s of segments) metrics.segmentBytes.observe(s.sizeBytes);
  }
  metrics.flushes.inc({ reason: sealed.reason });
  return { outcome, segments: segments.length, events, storedBytes };
}
