/**
 * The capture checkpoint: per slot, the commit end LSN of the last Postgres transaction
 * whose events Kafka committed. It is written inside the same Kafka transaction as those
 * events, to a compacted topic keyed by slot, so "in Kafka" and "checkpointed" are one fact.
 */
import { z } from 'zod';

import { BacktrackError } from '../errors.js';
import type { KafkaPort, OutgoingRecord } from '../kafka/index.js';
import { formatLsn, isLsnText, type Lsn, parseLsn } from '../lsn.js';

/** The last durable position of a slot. */
export interface Checkpoint {
  readonly slot: string;
  /** End of the commit record of the last transaction in Kafka: where the slot may be confirmed. */
  readonly commitEndLsn: Lsn;
  /** Commit record LSN of that transaction. */
  readonly commitLsn: Lsn;
  readonly xid: number;
  /** Commit time of that transaction, µs since the Unix epoch. */
  readonly commitTimeUs: bigint;
}

const lsnText = z.string().refine(isLsnText, 'must be an LSN X/Y');

const checkpointJson = z.object({
  version: z.literal(1),
  slot: z.string(),
  commitEndLsn: lsnText,
  commitLsn: lsnText,
  xid: z.number().int().nonnegative(),
  commitTimeUs: z.string().regex(/^\d+$/),
  writtenAt: z.string(),
});

/** The Kafka record of a checkpoint, for partition 0 of the single-partition checkpoint topic. */
export function checkpointRecord(
  topic: string,
  checkpoint: Checkpoint,
  writtenAt: Date,
): OutgoingRecord {
  const json: z.input<typeof checkpointJson> = {
    version: 1,
    slot: checkpoint.slot,
    commitEndLsn: formatLsn(checkpoint.commitEndLsn),
    commitLsn: formatLsn(checkpoint.commitLsn),
    xid: checkpoint.xid,
    commitTimeUs: checkpoint.commitTimeUs.toString(),
    writtenAt: writtenAt.toISOString(),
  };
  return { topic, key: checkpoint.slot, partition: 0, value: Buffer.from(JSON.stringify(json)) };
}

/** Parses a checkpoint record's value; throws INTEGRITY_FAILED when it is not one. */
export function parseCheckpoint(value: Buffer): Checkpoint {
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (cause) {
    throw new BacktrackError('INTEGRITY_FAILED', 'checkpoint record is not JSON', { cause });
  }
  const parsed = checkpointJson.safeParse(json);
  if (!parsed.success) {
    throw new BacktrackError(
      'INTEGRITY_FAILED',
      `checkpoint record is malformed: ${parsed.error.message}`,
    );
  }
  return {
    slot: parsed.data.slot,
    commitEndLsn: parseLsn(parsed.data.commitEndLsn),
    commitLsn: parseLsn(parsed.data.commitLsn),
    xid: parsed.data.xid,
    commitTimeUs: BigInt(parsed.data.commitTimeUs),
  };
}

/**
 * Whether a transaction is already in Kafka. Commit records do not overlap, so a
 * transaction whose commit record starts before the checkpoint's end is at or below it.
 */
export function alreadyPublished(commitLsn: Lsn, checkpoint: Checkpoint | undefined): boolean {
  return checkpoint !== undefined && commitLsn < checkpoint.commitEndLsn;
}

/** Records of the latest window read first: almost always the checkpoint is among them. */
const TAIL_WINDOW = 500n;

/**
 * Reads the newest committed checkpoint of `slot` (undefined when there is none). The
 * caller must first fence its transactional producer, so that an open transaction of a
 * crashed predecessor is aborted and does not hold the last stable offset back.
 */
export async function readCheckpoint(
  kafka: KafkaPort,
  topic: string,
  slot: string,
): Promise<Checkpoint | undefined> {
  const admin = await kafka.admin();
  let low: bigint;
  let high: bigint;
  try {
    const [partition] = await admin.topicOffsets(topic);
    if (!partition) return undefined;
    ({ low, high } = partition);
  } finally {
    await admin.disconnect();
  }

  const newestIn = async (from: bigint, to: bigint): Promise<Checkpoint | undefined> => {
    let newest: Checkpoint | undefined;
    await kafka.readRange({ topic, partition: 0, from, to }, (records) => {
      for (const record of records) {
        if (record.key?.toString() === slot && record.value) newest = parseCheckpoint(record.value);
      }
    });
    return newest;
  };

  const windowStart = high - TAIL_WINDOW > low ? high - TAIL_WINDOW : low;
  return (
    (await newestIn(windowStart, high)) ??
    (windowStart > low ? newestIn(low, windowStart) : undefined)
  );
}
