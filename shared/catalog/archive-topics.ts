/**
 * `backtrack.archive_topics`: the partition count of each log topic the archiver reads, so
 * a tenant's partition can be computed from the catalog (partitionForKey) without Kafka.
 */
import { z } from 'zod';

import type { Queryable } from '../pg/index.js';

import { int4, parseRows } from './columns.js';

/** Records the partition count of `topic` (as the archiver found it at start). */
export async function recordTopicPartitions(
  db: Queryable,
  topic: string,
  partitions: number,
): Promise<void> {
  await db.query(
    `INSERT INTO backtrack.archive_topics (topic, partitions) VALUES ($1, $2)
     ON CONFLICT (topic) DO UPDATE SET partitions = excluded.partitions, updated_at = now()`,
    [topic, partitions],
  );
}

const partitionsRow = z.object({ partitions: int4 });

/** The partition count of `topic`, or undefined when the archiver never read it. */
export async function topicPartitions(db: Queryable, topic: string): Promise<number | undefined> {
  const result = await db.query(
    'SELECT partitions FROM backtrack.archive_topics WHERE topic = $1',
    [topic],
  );
  return parseRows('topicPartitions', partitionsRow, result.rows)[0]?.partitions;
}
