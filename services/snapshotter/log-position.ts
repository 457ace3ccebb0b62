/**
 * Where the transaction log stands for a tenant, read BEFORE the snapshot transaction
 * begins: the last stable offset of the tenant's partition and of the partition of `_all`
 * (truncates of every tenant). Every event of a transaction invisible to the snapshot was
 * committed to Kafka after this read, so it sits at or after these offsets: a restore
 * reads the log from the ranges containing them.
 */
import { BacktrackError, isBacktrackError } from '../../shared/errors.js';
import { TENANT_ALL } from '../../shared/events/index.js';
import { type KafkaPort, partitionForKey } from '../../shared/kafka/index.js';

/** The log positions recorded with a snapshot. */
export interface LogPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly truncatePartition: number;
  readonly truncateOffset: bigint;
}

/** Reads the log position of `tenant` on `topic`. */
export async function readLogPosition(
  kafka: KafkaPort,
  topic: string,
  tenant: string,
): Promise<LogPosition> {
  const admin = await kafka.admin();
  try {
    if (!(await admin.listTopics()).includes(topic)) {
      throw new BacktrackError(
        'SOURCE_NOT_READY',
        `the transaction log ${topic} does not exist: start \`backtrack capture\` before taking snapshots, or changes after the snapshot would not be recorded (check BACKTRACK_TOPIC_PREFIX)`,
        { details: { topic } },
      );
    }
    const offsets = await admin.topicOffsets(topic);
    const partition = partitionForKey(tenant, offsets.length);
    const truncatePartition = partitionForKey(TENANT_ALL, offsets.length);
    const at = (p: number): bigint => {
      const found = offsets.find((o) => o.partition === p);
      if (!found) throw new BacktrackError('KAFKA_UNAVAILABLE', `no offsets for ${topic}[${p}]`);
      return found.high;
    };
    return {
      topic,
      partition,
      offset: at(partition),
      truncatePartition,
      truncateOffset: at(truncatePartition),
    };
  } catch (e) {
    if (isBacktrackError(e)) throw e;
    throw new BacktrackError(
      'KAFKA_UNAVAILABLE',
      `cannot read the offsets of ${topic} (${(e as Error).message}); check BACKTRACK_KAFKA_BROKERS and that Kafka runs`,
      { cause: e, retriable: true },
    );
  } finally {
    await admin.disconnect();
  }
}
