/**
 * `backtrack.archive_ranges`: what the archiver has read of each partition. Recording a
 * flush is one transaction that inserts the range, its segments and the tenants seen, under
 * a per-partition lock that keeps ranges from overlapping.
 */
import { z } from 'zod';

import type { ArchivedRange } from '../archive/coverage.js';
import { BacktrackError } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { PgPool, Queryable } from '../pg/index.js';

import { int4, int8, lsn, microsToTimestamptz, parseRows, timestamp } from './columns.js';
import { insertSegments, type NewSegment } from './segments.js';
import { touchTenants } from './tenants.js';

/** A flushed range to record. */
export interface NewRange {
  readonly topic: string;
  readonly partition: number;
  readonly from: bigint;
  readonly to: bigint;
  /** Events of every tenant in the range. */
  readonly eventCount: number;
  readonly minCommitLsn: Lsn | undefined;
  readonly maxCommitLsn: Lsn | undefined;
  readonly minCommitTimeUs: bigint | undefined;
  readonly maxCommitTimeUs: bigint | undefined;
}

/** A recorded range. */
export interface RangeRecord extends ArchivedRange {
  readonly topic: string;
  readonly partition: number;
  readonly eventCount: number;
  readonly segmentCount: number;
  readonly minCommitLsn: Lsn | null;
  readonly maxCommitLsn: Lsn | null;
  readonly createdAt: Date;
}

const rangeRow = z
  .object({
    topic: z.string(),
    partition: int4,
    from_offset: int8,
    to_offset: int8,
    event_count: int4,
    segment_count: int4,
    min_commit_lsn: lsn.nullable(),
    max_commit_lsn: lsn.nullable(),
    min_commit_time: timestamp.nullable(),
    max_commit_time: timestamp.nullable(),
    created_at: timestamp,
  })
  .transform((r): RangeRecord => ({
    topic: r.topic,
    partition: r.partition,
    from: r.from_offset,
    to: r.to_offset,
    eventCount: r.event_count,
    segmentCount: r.segment_count,
    minCommitLsn: r.min_commit_lsn,
    maxCommitLsn: r.max_commit_lsn,
    minCommitTime: r.min_commit_time,
    maxCommitTime: r.max_commit_time,
    createdAt: r.created_at,
  }));

const RANGE_COLUMNS = `topic, partition, from_offset, to_offset, event_count, segment_count,
  min_commit_lsn::text AS min_commit_lsn, max_commit_lsn::text AS max_commit_lsn,
  min_commit_time, max_commit_time, created_at`;

const endRow = z.object({ archived_to: int8.nullable() });
const existingRow = z.object({ to_offset: int8 });

/** What recording a flush did. */
export type RecordOutcome = 'recorded' | 'already-recorded';

/**
 * Records a flushed range with its segments and tenants, atomically and idempotently:
 *   - the same range recorded before (a retry after an ambiguous commit) changes nothing;
 *   - a range starting before the archive's end for the partition overlaps what another
 *     flush recorded: ARCHIVE_CONFLICT, and nothing is written (the caller re-reads from the
 *     catalog's position);
 *   - a range starting after it leaves a gap, which is recorded as it is: coverage reports
 *     it (events the log no longer holds are never papered over).
 */
export async function recordArchiveRange(
  pool: PgPool,
  range: NewRange,
  segments: readonly NewSegment[],
): Promise<RecordOutcome> {
  return pool.transaction(async (session) => {
    // Serialises flushes of one partition, whichever archiver process makes them.
    await session.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
      `backtrack.archive_ranges:${range.topic}:${range.partition}`,
    ]);
    const same = await session.query(
      `SELECT to_offset FROM backtrack.archive_ranges WHERE topic = $1 AND partition = $2 AND from_offset = $3`,
      [range.topic, range.partition, range.from.toString()],
    );
    const existing = parseRows('recordArchiveRange.same', existingRow, same.rows)[0];
    if (existing && existing.to_offset === range.to) return 'already-recorded';
    const end = await archivedTo(session, range.topic, range.partition);
    if (existing || (end !== undefined && range.from < end)) {
      throw new BacktrackError(
        'ARCHIVE_CONFLICT',
        `range [${range.from}, ${range.to}) of ${range.topic}[${range.partition}] overlaps the archive, which reaches ${end}: another archiver flushed it; this one re-reads from the catalog's position`,
        {
          details: { topic: range.topic, partition: range.partition, archivedTo: end?.toString() },
        },
      );
    }
    await touchTenants(
      session,
      segments.map((s) => s.metadata.tenant),
      'archived',
    );
    await session.query(
      `INSERT INTO backtrack.archive_ranges (topic, partition, from_offset, to_offset, event_count,
         segment_count, min_commit_lsn, max_commit_lsn, min_commit_time, max_commit_time)
       VALUES ($1, $2, $3, $4, $5, $6, $7::pg_lsn, $8::pg_lsn,
               CASE WHEN $9::bigint IS NULL THEN NULL ELSE ${microsToTimestamptz('$9')} END,
               CASE WHEN $10::bigint IS NULL THEN NULL ELSE ${microsToTimestamptz('$10')} END)
       ON CONFLICT DO NOTHING`,
      [
        range.topic,
        range.partition,
        range.from.toString(),
        range.to.toString(),
        range.eventCount,
        segments.length,
        range.minCommitLsn === undefined ? null : formatLsn(range.minCommitLsn),
        range.maxCommitLsn === undefined ? null : formatLsn(range.maxCommitLsn),
        range.minCommitTimeUs?.toString() ?? null,
        range.maxCommitTimeUs?.toString() ?? null,
      ],
    );
    await insertSegments(session, segments);
    return 'recorded';
  });
}

/** End (exclusive) of the newest range of a partition; undefined when none is recorded. */
export async function archivedTo(
  db: Queryable,
  topic: string,
  partition: number,
): Promise<bigint | undefined> {
  const result = await db.query(
    `SELECT max(to_offset) AS archived_to FROM backtrack.archive_ranges WHERE topic = $1 AND partition = $2`,
    [topic, partition],
  );
  return parseRows('archivedTo', endRow, result.rows)[0]?.archived_to ?? undefined;
}

/** The ranges of a partition in offset order, optionally only those ending after `after`. */
export async function listRanges(
  db: Queryable,
  topic: string,
  partition: number,
  after?: bigint,
): Promise<RangeRecord[]> {
  const result = await db.query(
    `SELECT ${RANGE_COLUMNS} FROM backtrack.archive_ranges
      WHERE topic = $1 AND partition = $2 AND ($3::bigint IS NULL OR to_offset > $3)
      ORDER BY from_offset`,
    [topic, partition, after?.toString() ?? null],
  );
  return parseRows('listRanges', rangeRow, result.rows);
}

/** Partitions of `topic` that have ranges, with where each ends. */
export async function archivedPartitions(
  db: Queryable,
  topic: string,
): Promise<{ partition: number; archivedTo: bigint }[]> {
  const result = await db.query(
    `SELECT partition, max(to_offset) AS archived_to FROM backtrack.archive_ranges
      WHERE topic = $1 GROUP BY partition ORDER BY partition`,
    [topic],
  );
  return parseRows(
    'archivedPartitions',
    z.object({ partition: int4, archived_to: int8 }),
    result.rows,
  ).map((r) => ({ partition: r.partition, archivedTo: r.archived_to }));
}
