/**
 * Catalog side of compaction: replacing small segments by the one that merges them, in
 * one transaction, and forgetting compacted segments once their objects are deleted.
 * Ranges are never touched: coverage stays exactly what it was.
 */
import { z } from 'zod';

import type { PgPool, Queryable } from '../pg/index.js';

import { parseRows } from './columns.js';
import { insertSegments, type NewSegment, type Segment } from './segments.js';

const keyRow = z.object({ key: z.string() });

/**
 * Records `merged` and marks `replaced` compacted (deleted after `graceMs`), atomically.
 * Returns false, changing nothing, when any of `replaced` is no longer active (another
 * compaction got there first) or `merged` does not span exactly what they span.
 */
export async function replaceSegments(
  pool: PgPool,
  merged: NewSegment,
  replaced: readonly Segment[],
  graceMs: number,
): Promise<boolean> {
  const first = replaced[0];
  const last = replaced.at(-1);
  if (
    !first ||
    !last ||
    merged.metadata.rangeFrom !== first.rangeFrom ||
    merged.metadata.rangeTo !== last.rangeTo ||
    merged.metadata.eventCount !== replaced.reduce((n, s) => n + s.eventCount, 0)
  ) {
    return false;
  }
  return pool.transaction(async (session) => {
    const keys = replaced.map((s) => s.key);
    const locked = await session.query(
      `SELECT key FROM backtrack.segments WHERE key = ANY($1::text[]) AND state = 'active' ORDER BY key FOR UPDATE`,
      [keys],
    );
    if (parseRows('replaceSegments.lock', keyRow, locked.rows).length !== keys.length) return false;
    if ((await insertSegments(session, [merged])) !== 1) return false;
    await session.query(
      `UPDATE backtrack.segments
          SET state = 'compacted', compacted_into = $2,
              delete_after = now() + $3::bigint * interval '1 millisecond'
        WHERE key = ANY($1::text[])`,
      [keys, merged.key, String(graceMs)],
    );
    return true;
  });
}

/** Keys of compacted segments whose grace period is over, oldest first. */
export async function segmentsDueForDeletion(db: Queryable, limit = 1000): Promise<string[]> {
  const result = await db.query(
    `SELECT key FROM backtrack.segments
      WHERE state = 'compacted' AND delete_after <= now()
      ORDER BY delete_after LIMIT $1`,
    [limit],
  );
  return parseRows('segmentsDueForDeletion', keyRow, result.rows).map((r) => r.key);
}

/** Removes the rows of compacted segments whose objects were deleted. */
export async function forgetSegments(db: Queryable, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  const result = await db.query(
    `DELETE FROM backtrack.segments WHERE key = ANY($1::text[]) AND state = 'compacted'`,
    [[...keys]],
  );
  return result.rowCount;
}
