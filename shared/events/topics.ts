/**
 * The Kafka topics of the transaction log and how each is created, and the mapping of an
 * event to its Kafka record: key = tenant and an explicit partition, partitionForKey(tenant),
 * so each tenant's history is totally ordered in one partition, the one the snapshotter and
 * restore-points compute; headers for routing without decoding.
 */
import { BacktrackError } from '../errors.js';
import {
  type KafkaPort,
  type OutgoingRecord,
  partitionForKey,
  type TopicSpec,
} from '../kafka/index.js';
import { formatLsn } from '../lsn.js';

import { CHANGE_OPS, type ChangeEvent } from './change-event.js';
import { encodeChangeEvent, EVENT_SCHEMA_FINGERPRINT } from './codec.js';

/** Largest Kafka record the txlog topic accepts; larger events go to a claim check. */
export const TXLOG_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Header names of a txlog record. */
export const TXLOG_HEADERS = {
  schema: 'bt-schema',
  table: 'bt-table',
  op: 'bt-op',
  commitLsn: 'bt-commit-lsn',
} as const;

/** `<prefix>.txlog`: the transaction log. */
export function txlogTopic(prefix: string): string {
  return `${prefix}.txlog`;
}

/** `<prefix>.checkpoints`: compacted, one record per slot (the last committed position). */
export function checkpointTopic(prefix: string): string {
  return `${prefix}.checkpoints`;
}

/** How the txlog topic is created. */
export function txlogTopicSpec(prefix: string, partitions: number): TopicSpec {
  return {
    name: txlogTopic(prefix),
    partitions,
    config: {
      'cleanup.policy': 'delete',
      'max.message.bytes': String(TXLOG_MAX_MESSAGE_BYTES),
      // The archiver moves the log to object storage; Kafka keeps a week as a buffer.
      'retention.ms': String(7 * 24 * 3600 * 1000),
      'compression.type': 'producer',
    },
  };
}

/**
 * The partition count of `topic` as Kafka has it: what the txlog's records are spread over.
 * Not the configured count, which only applies when Backtrack creates the topic; the archive
 * records and the snapshotter reads the same figure from Kafka.
 */
export async function topicPartitionCount(kafka: KafkaPort, topic: string): Promise<number> {
  const admin = await kafka.admin();
  try {
    const partitions = (await admin.topicOffsets(topic)).length;
    if (partitions < 1) {
      throw new BacktrackError('KAFKA_UNAVAILABLE', `topic ${topic} has no partitions yet`, {
        retriable: true,
        details: { topic },
      });
    }
    return partitions;
  } finally {
    await admin.disconnect();
  }
}

/** The checkpoint topic has one partition: every checkpoint record goes to partition 0. */
export const CHECKPOINT_PARTITIONS = 1;

/** How the checkpoint topic is created. */
export function checkpointTopicSpec(prefix: string): TopicSpec {
  return {
    name: checkpointTopic(prefix),
    partitions: CHECKPOINT_PARTITIONS,
    config: {
      'cleanup.policy': 'compact',
      'segment.ms': String(3600 * 1000),
      'min.cleanable.dirty.ratio': '0.1',
    },
  };
}

/** The Kafka record of an event, in a txlog topic of `partitions` partitions. */
export function toTxlogRecord(
  topic: string,
  partitions: number,
  event: ChangeEvent,
  value = encodeChangeEvent(event),
): OutgoingRecord {
  return {
    topic,
    key: event.tenant,
    partition: partitionForKey(event.tenant, partitions),
    value,
    headers: {
      [TXLOG_HEADERS.schema]: EVENT_SCHEMA_FINGERPRINT,
      [TXLOG_HEADERS.table]: `${event.schema}.${event.table}`,
      [TXLOG_HEADERS.op]: event.op,
      [TXLOG_HEADERS.commitLsn]: formatLsn(event.commitLsn),
    },
  };
}

/**
 * Builds txlog records with header values as shared Buffers: the producer encodes a
 * string header anew for every record, which costs as much as the record itself.
 */
export class TxlogRecords {
  private static readonly fingerprint = Buffer.from(EVENT_SCHEMA_FINGERPRINT);
  private static readonly ops = new Map(CHANGE_OPS.map((op) => [op, Buffer.from(op)]));
  private readonly tables = new Map<string, Buffer>();
  /** partitionForKey of each tenant seen, so the key is hashed once per tenant. */
  private readonly partitions = new Map<string, number>();
  /** The previous record's table (consecutive events mostly share one). */
  private lastSchema: string | undefined;
  private lastTable: string | undefined;
  private lastTableText: Buffer = Buffer.alloc(0);
  private lastLsn: bigint | undefined;
  private lastLsnText = Buffer.alloc(0);
  /** The headers of the previous record: shared by the next one when they are the same. */
  private lastHeaders: Record<string, Buffer> | undefined;

  /** Records for `topic`, which has `partitionCount` partitions (see topicPartitionCount). */
  constructor(
    private readonly topic: string,
    private readonly partitionCount: number,
  ) {
    // Fails now, not at the first record, when the count is not a partition count.
    partitionForKey('', partitionCount);
  }

  /** The Kafka record of `event` whose encoded value is `value`. */
  record(event: ChangeEvent, value: Buffer): OutgoingRecord {
    let tableText = this.lastTableText;
    if (event.schema !== this.lastSchema || event.table !== this.lastTable) {
      const table = `${event.schema}.${event.table}`;
      const known = this.tables.get(table);
      tableText = known ?? Buffer.from(table);
      if (!known) this.tables.set(table, tableText);
      this.lastSchema = event.schema;
      this.lastTable = event.table;
      this.lastTableText = tableText;
    }
    let partition = this.partitions.get(event.tenant);
    if (partition === undefined) {
      partition = partitionForKey(event.tenant, this.partitionCount);
      this.partitions.set(event.tenant, partition);
    }
    if (event.commitLsn !== this.lastLsn) {
      this.lastLsn = event.commitLsn;
      this.lastLsnText = Buffer.from(formatLsn(event.commitLsn));
    }
    const opText = TxlogRecords.ops.get(event.op) ?? Buffer.from(event.op);
    let headers = this.lastHeaders;
    // Consecutive events of one transaction, table and operation share one headers object
    // (the producer converts a headers object once, not once per record).
    if (
      headers?.[TXLOG_HEADERS.table] !== tableText ||
      headers[TXLOG_HEADERS.op] !== opText ||
      headers[TXLOG_HEADERS.commitLsn] !== this.lastLsnText
    ) {
      headers = Object.freeze({
        [TXLOG_HEADERS.schema]: TxlogRecords.fingerprint,
        [TXLOG_HEADERS.table]: tableText,
        [TXLOG_HEADERS.op]: opText,
        [TXLOG_HEADERS.commitLsn]: this.lastLsnText,
      });
      this.lastHeaders = headers;
    }
    return { topic: this.topic, key: event.tenant, partition, value, headers };
  }
}
