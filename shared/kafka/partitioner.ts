/**
 * Which partition a record goes to. Every record of this port names its partition; no client
 * partitioner is ever used. A keyed record's partition is murmur2 of the key's UTF-8 bytes,
 * made positive, modulo the partition count — the Java client's default partitioner — so a
 * tenant lands on the same partition whoever computes it: the capture when it writes, the
 * archive and the snapshotter when they look for a tenant without asking Kafka.
 */
import { BacktrackError } from '../errors.js';

import type { OutgoingRecord } from './port.js';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (32-bit, signed result), as `org.apache.kafka.common.utils.Utils.murmur2`. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length - (length % 4);
  for (let i = 0; i < whole; i += 4) {
    let k =
      (data[i] ?? 0) |
      ((data[i + 1] ?? 0) << 8) |
      ((data[i + 2] ?? 0) << 16) |
      ((data[i + 3] ?? 0) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const rest = length % 4;
  if (rest === 3) h ^= (data[whole + 2] ?? 0) << 16;
  if (rest >= 2) h ^= (data[whole + 1] ?? 0) << 8;
  if (rest >= 1) {
    h ^= data[whole] ?? 0;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of `key` in a topic of `partitions` partitions. */
export function partitionForKey(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`a topic has at least one partition, not ${partitions}`);
  }
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}

/**
 * The partition `record` names; refuses a record without one, so that no client default
 * partitioner (whose choice may differ from {@link partitionForKey}) ever places a record.
 */
export function explicitPartition(record: OutgoingRecord): number {
  const { partition } = record;
  if (partition === undefined || !Number.isInteger(partition) || partition < 0) {
    throw new BacktrackError(
      'INTERNAL',
      `a record for topic ${record.topic} has no valid partition (${String(partition)}): every record names its partition, partitionForKey(key, partitions) for a keyed topic`,
      { details: { topic: record.topic, partition } },
    );
  }
  return partition;
}
