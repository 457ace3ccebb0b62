/**
 * The Kafka topics of the transaction log and how each is created, and the mapping of an
 * event to its Kafka record (key = tenant, so each tenant's history is totally ordered in
 * one partition; headers for routing without decoding).
 */
import type { OutgoingRecord, TopicSpec } from '../kafka/index.js';
import { formatLsn } from '../lsn.js';

import type { ChangeEvent } from './change-event.js';
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

/** How the checkpoint topic is created. */
export function checkpointTopicSpec(prefix: string): TopicSpec {
  return {
    name: checkpointTopic(prefix),
    partitions: 1,
    config: {
      'cleanup.policy': 'compact',
      'segment.ms': String(3600 * 1000),
      'min.cleanable.dirty.ratio': '0.1',
    },
  };
}

/** The Kafka record of an event. */
export function toTxlogRecord(
  topic: string,
  event: ChangeEvent,
  value = encodeChangeEvent(event),
): OutgoingRecord {
  return {
    topic,
    key: event.tenant,
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
  private static readonly ops = new Map(
    (['insert', 'update', 'delete', 'truncate'] as const).map((op) => [op, Buffer.from(op)]),
  );
  private readonly tables = new Map<string, Buffer>();
  private lastLsn: bigint | undefined;
  private lastLsnText = Buffer.alloc(0);

  constructor(private readonly topic: string) {}

  /** The Kafka record of `event` whose encoded value is `value`. */
  record(event: ChangeEvent, value: Buffer): OutgoingRecord {
    const table = `${event.schema}.${event.table}`;
    let tableText = this.tables.get(table);
    if (!tableText) {
      tableText = Buffer.from(table);
      this.tables.set(table, tableText);
    }
    if (event.commitLsn !== this.lastLsn) {
      this.lastLsn = event.commitLsn;
      this.lastLsnText = Buffer.from(formatLsn(event.commitLsn));
    }
    return {
      topic: this.topic,
      key: event.tenant,
      value,
      headers: {
        [TXLOG_HEADERS.schema]: TxlogRecords.fingerprint,
        [TXLOG_HEADERS.table]: tableText,
        [TXLOG_HEADERS.op]: TxlogRecords.ops.get(event.op) ?? Buffer.from(event.op),
        [TXLOG_HEADERS.commitLsn]: this.lastLsnText,
      },
    };
  }
}
