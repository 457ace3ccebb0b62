/**
 * `backtrack.segments`: one tenant's events of one range (or, after compaction, of several
 * contiguous ranges), stored as one object. Rows are inserted with their range in one
 * transaction (archive-ranges.ts) or by compaction (compaction.ts); a compacted row stays
 * until its object is deleted after the grace period.
 */
import { z } from 'zod';

import type { SegmentMetadata } from '../archive/segment-file.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { Queryable } from '../pg/index.js';

import { int4, int8, lsn, microsToTimestamptz, parseRows, timestamp } from './columns.js';

/** A segment to record: its metadata plus where and how it is stored. */
export interface NewSegment {
  readonly key: string;
  readonly metadata: SegmentMetadata;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly codec: string;
  /** Master key id when encrypted. */
  readonly keyId: string | undefined;
}

/** A segment as the catalog knows it. */
export interface Segment {
  readonly key: string;
  readonly tenant: string;
  readonly topic: string;
  readonly partition: number;
  /** The ranges it spans: consumer positions [rangeFrom, rangeTo). */
  readonly rangeFrom: bigint;
  readonly rangeTo: bigint;
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly eventCount: number;
  readonly minCommitLsn: Lsn;
  readonly maxCommitLsn: Lsn;
  readonly minCommitTime: Date;
  readonly maxCommitTime: Date;
  /** The same, exact: microseconds since the Unix epoch. */
  readonly minCommitTimeUs: bigint;
  readonly maxCommitTimeUs: bigint;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly codec: string;
  readonly encrypted: boolean;
  readonly keyId: string | null;
  readonly schemaFingerprint: string;
  readonly state: 'active' | 'compacted';
  readonly compactedInto: string | null;
  readonly deleteAfter: Date | null;
  readonly createdAt: Date;
}

/** Columns selected for a {@link Segment}. */
export const SEGMENT_COLUMNS = `key, tenant_id, topic, partition, range_from, range_to, first_offset,
  last_offset, event_count, min_commit_lsn::text AS min_commit_lsn, max_commit_lsn::text AS max_commit_lsn,
  min_commit_time, max_commit_time,
  (extract(epoch FROM min_commit_time) * 1000000)::bigint AS min_commit_us,
  (extract(epoch FROM max_commit_time) * 1000000)::bigint AS max_commit_us, size_bytes, sha256, codec, encrypted, key_id, schema_fingerprint,
  state, compacted_into, delete_after, created_at`;

/** The row type of {@link SEGMENT_COLUMNS}. */
export const segmentRow = z
  .object({
    key: z.string(),
    tenant_id: z.string(),
    topic: z.string(),
    partition: int4,
    range_from: int8,
    range_to: int8,
    first_offset: int8,
    last_offset: int8,
    event_count: int4,
    min_commit_lsn: lsn,
    max_commit_lsn: lsn,
    min_commit_time: timestamp,
    max_commit_time: timestamp,
    min_commit_us: int8,
    max_commit_us: int8,
    size_bytes: int8,
    sha256: z.string(),
    codec: z.string(),
    encrypted: z.boolean(),
    key_id: z.string().nullable(),
    schema_fingerprint: z.string(),
    state: z.enum(['active', 'compacted']),
    compacted_into: z.string().nullable(),
    delete_after: timestamp.nullable(),
    created_at: timestamp,
  })
  .transform((r): Segment => ({
    key: r.key,
    tenant: r.tenant_id,
    topic: r.topic,
    partition: r.partition,
    rangeFrom: r.range_from,
    rangeTo: r.range_to,
    firstOffset: r.first_offset,
    lastOffset: r.last_offset,
    eventCount: r.event_count,
    minCommitLsn: r.min_commit_lsn,
    maxCommitLsn: r.max_commit_lsn,
    minCommitTime: r.min_commit_time,
    maxCommitTime: r.max_commit_time,
    minCommitTimeUs: r.min_commit_us,
    maxCommitTimeUs: r.max_commit_us,
    sizeBytes: Number(r.size_bytes),
    sha256: r.sha256,
    codec: r.codec,
    encrypted: r.encrypted,
    keyId: r.key_id,
    schemaFingerprint: r.schema_fingerprint,
    state: r.state,
    compactedInto: r.compacted_into,
    deleteAfter: r.delete_after,
    createdAt: r.created_at,
  }));

/**
 * Inserts segments in one statement; a key already recorded is left as it is (keys are
 * deterministic, so it is the same segment recorded by an earlier attempt). Returns how
 * many rows were new.
 */
export async function insertSegments(
  db: Queryable,
  segments: readonly NewSegment[],
): Promise<number> {
  if (segments.length === 0) return 0;
  const column = <T>(pick: (s: NewSegment) => T): T[] => segments.map(pick);
  const result = await db.query(
    `INSERT INTO backtrack.segments (key, tenant_id, topic, partition, range_from, range_to,
       first_offset, last_offset, event_count, min_commit_lsn, max_commit_lsn, min_commit_time,
       max_commit_time, size_bytes, sha256, codec, encrypted, key_id, schema_fingerprint)
     SELECT s.key, s.tenant, s.topic, s.partition, s.range_from, s.range_to, s.first_offset,
            s.last_offset, s.event_count, s.min_lsn::pg_lsn, s.max_lsn::pg_lsn,
            ${microsToTimestamptz('s.min_us')}, ${microsToTimestamptz('s.max_us')},
            s.size_bytes, s.sha256, s.codec, s.key_id IS NOT NULL, s.key_id, s.fingerprint
       FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::bigint[],
                   $7::bigint[], $8::bigint[], $9::int[], $10::text[], $11::text[], $12::bigint[],
                   $13::bigint[], $14::bigint[], $15::text[], $16::text[], $17::text[], $18::text[])
         AS s(key, tenant, topic, partition, range_from, range_to, first_offset, last_offset,
              event_count, min_lsn, max_lsn, min_us, max_us, size_bytes, sha256, codec, key_id,
              fingerprint)
     ON CONFLICT (key) DO NOTHING`,
    [
      column((s) => s.key),
      column((s) => s.metadata.tenant),
      column((s) => s.metadata.topic),
      column((s) => s.metadata.partition),
      column((s) => s.metadata.rangeFrom.toString()),
      column((s) => s.metadata.rangeTo.toString()),
      column((s) => s.metadata.firstOffset.toString()),
      column((s) => s.metadata.lastOffset.toString()),
      column((s) => s.metadata.eventCount),
      column((s) => formatLsn(s.metadata.minCommitLsn)),
      column((s) => formatLsn(s.metadata.maxCommitLsn)),
      column((s) => s.metadata.minCommitTimeUs.toString()),
      column((s) => s.metadata.maxCommitTimeUs.toString()),
      column((s) => String(s.sizeBytes)),
      column((s) => s.sha256),
      column((s) => s.codec),
      column((s) => s.keyId ?? null),
      column((s) => s.metadata.eventSchemaFingerprint),
    ],
  );
  return result.rowCount;
}

/** Which segments to list. */
export interface SegmentFilter {
  readonly tenant?: string;
  readonly topic?: string;
  readonly partition?: number;
  /** Only segments whose ranges end after this position. */
  readonly endingAfter?: bigint;
  /** Include compacted segments whose objects still exist (for verify). */
  readonly includeCompacted?: boolean;
}

/** Segments in (tenant, partition, first offset) order. */
export async function listSegments(db: Queryable, filter: SegmentFilter = {}): Promise<Segment[]> {
  const result = await db.query(
    `SELECT ${SEGMENT_COLUMNS} FROM backtrack.segments
      WHERE ($1::text IS NULL OR tenant_id = $1)
        AND ($2::text IS NULL OR topic = $2)
        AND ($3::int IS NULL OR partition = $3)
        AND ($4::bigint IS NULL OR range_to > $4)
        AND ($5 OR state = 'active')
      ORDER BY tenant_id, topic, partition, first_offset, state`,
    [
      filter.tenant ?? null,
      filter.topic ?? null,
      filter.partition ?? null,
      filter.endingAfter?.toString() ?? null,
      filter.includeCompacted === true,
    ],
  );
  return parseRows('listSegments', segmentRow, result.rows);
}

/**
 * The segments a restore of `tenant` reads from `position` on: active segments of the
 * partition whose ranges end after it, in offset order. Pair with coverageFrom() on the
 * partition's ranges to know the events after the last of them are not archived (Kafka tail)
 * and that no gap lies between.
 */
export function segmentsForRestore(
  db: Queryable,
  tenant: string,
  topic: string,
  partition: number,
  position: bigint,
): Promise<Segment[]> {
  return listSegments(db, { tenant, topic, partition, endingAfter: position });
}
