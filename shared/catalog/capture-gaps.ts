/**
 * `backtrack.capture_gaps`: WAL that never reached Kafka because the slot was confirmed past
 * the capture checkpoint. Capture records each gap once, before it resumes at the slot; the
 * changes committed after `afterCommitTime` and before `detectedAt` may be missing from the
 * log, so no restore is exact across them.
 */
import { z } from 'zod';

import { formatLsn, type Lsn } from '../lsn.js';
import type { Queryable } from '../pg/index.js';

import { lsn, microsToTimestamptz, parseRows, timestamp } from './columns.js';

/** A recorded gap. */
export interface CaptureGapRecord {
  readonly slot: string;
  readonly topic: string;
  readonly fromLsn: Lsn;
  readonly toLsn: Lsn;
  /** Commit time of the last transaction in Kafka before the gap. */
  readonly afterCommitTime: Date;
  readonly detectedAt: Date;
}

/** Records a gap (idempotent: the same gap found twice is one row). */
export async function recordCaptureGap(
  db: Queryable,
  gap: Omit<CaptureGapRecord, 'afterCommitTime'> & { readonly afterCommitTimeUs: bigint },
): Promise<void> {
  await db.query(
    `INSERT INTO backtrack.capture_gaps (slot, topic, from_lsn, to_lsn, after_commit_time, detected_at)
     VALUES ($1, $2, $3, $4, ${microsToTimestamptz('$5')}, $6)
     ON CONFLICT (slot, from_lsn, to_lsn) DO NOTHING`,
    [
      gap.slot,
      gap.topic,
      formatLsn(gap.fromLsn),
      formatLsn(gap.toLsn),
      gap.afterCommitTimeUs.toString(),
      gap.detectedAt,
    ],
  );
}

const gapRow = z.object({
  slot: z.string(),
  topic: z.string(),
  from_lsn: lsn,
  to_lsn: lsn,
  after_commit_time: timestamp,
  detected_at: timestamp,
});

/** The gaps of the log `topic`, oldest first. */
export async function listCaptureGaps(db: Queryable, topic: string): Promise<CaptureGapRecord[]> {
  const result = await db.query(
    `SELECT slot, topic, from_lsn::text AS from_lsn, to_lsn::text AS to_lsn, after_commit_time, detected_at
       FROM backtrack.capture_gaps WHERE topic = $1 ORDER BY detected_at, from_lsn`,
    [topic],
  );
  return parseRows('listCaptureGaps', gapRow, result.rows).map((r) => ({
    slot: r.slot,
    topic: r.topic,
    fromLsn: r.from_lsn,
    toLsn: r.to_lsn,
    afterCommitTime: r.after_commit_time,
    detectedAt: r.detected_at,
  }));
}
