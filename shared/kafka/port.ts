/**
 * The narrow port to Kafka: what the services may ask of it, in their own types, with no
 * vendor type in sight. Adapters: `librdkafka.ts` (the transactional producer, on
 * @confluentinc/kafka-javascript's native API) and `kafkajs.ts` (admin, consumers, ranges).
 * Offsets are bigints; keys and values are Buffers; consumers read committed data only.
 */
import type { Logger } from '../logging.js';

/** How to reach the cluster. */
export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly log: Logger;
  /** Connection timeout per broker (ms). */
  readonly connectionTimeoutMs?: number;
  /** Retries kafkajs makes inside one call before it gives up (its own backoff). */
  readonly retries?: number;
  /**
   * Longest a transactional producer operation (start, begin, send, commit, abort, send of
   * offsets, disconnect) may take before it fails as KAFKA_UNAVAILABLE (ms; 60 s by default).
   */
  readonly operationTimeoutMs?: number;
  /**
   * The client behind {@link KafkaPort.transactionalProducer}: `librdkafka` (the default)
   * or `kafkajs`, kept only to compare the two (`npm run bench:produce`) until kafkajs goes.
   */
  readonly producerClient?: ProducerClient;
}

/** The clients a transactional producer can run on. */
export type ProducerClient = 'librdkafka' | 'kafkajs';

/** A topic to create. */
export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor?: number;
  /** Topic-level configs, e.g. `{ 'cleanup.policy': 'compact' }`. */
  readonly config?: Readonly<Record<string, string>>;
}

/** A partition's offsets: low watermark and high watermark (next offset to be written). */
export interface PartitionOffsets {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
}

/** A record to produce. */
export interface OutgoingRecord {
  readonly topic: string;
  readonly key: string | Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, string | Buffer>>;
  /**
   * The partition, always explicit: the producers refuse a record without one (no client
   * picks a partition here). For keyed topics it is `partitionForKey(key, partitions)`, the
   * Java client's murmur2, which the snapshotter and restore-points compute the same way.
   */
  readonly partition?: number;
  readonly timestampMs?: number;
}

/** A consumed record. */
export interface IncomingRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer>>;
  readonly timestampMs: number;
}

/** Records of one partition fetched together. */
export interface IncomingBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly IncomingRecord[];
  /** Next offset after the last one the broker holds for this partition. */
  readonly highWatermark: bigint;
  /** The offset this fetch started from (the consumer's position before the batch). */
  readonly fetchedOffset: bigint;
  /**
   * The consumer's position after the batch: one past its last record, transaction markers
   * and aborted records included (they occupy offsets but never appear in `records`).
   */
  readonly nextOffset: bigint;
}

/** Where a consumer stands on a partition after it skipped records that carry no data. */
export interface PositionAdvance {
  readonly topic: string;
  readonly partition: number;
  /** The first offset of the skipped records. */
  readonly fromOffset: bigint;
  /** The next offset the consumer will fetch. */
  readonly nextOffset: bigint;
}

/** Partitions assigned to this member of the group, by topic. */
export interface Assignment {
  readonly topic: string;
  readonly partitions: readonly number[];
}

/** Cluster facts from `describeCluster`. */
export interface ClusterDescription {
  readonly clusterId: string;
  readonly controllerId: number | null;
  readonly brokers: readonly {
    readonly nodeId: number;
    readonly host: string;
    readonly port: number;
  }[];
}

/** Administrative operations. */
export interface KafkaAdmin {
  describeCluster(): Promise<ClusterDescription>;
  /** Creates the topic unless it exists; says which happened. */
  ensureTopic(spec: TopicSpec): Promise<'created' | 'exists'>;
  listTopics(): Promise<string[]>;
  deleteTopics(names: readonly string[]): Promise<void>;
  /**
   * Offsets of every partition of `topic`. `high` is the last stable offset: records at or
   * past it are not visible to read_committed consumers yet.
   */
  topicOffsets(topic: string): Promise<PartitionOffsets[]>;
  /** Committed offsets of a consumer group for `topic` (-1 when none). */
  groupOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: bigint }[]>;
  disconnect(): Promise<void>;
}

/** An offset a consumer group should read next on a partition. */
export interface GroupOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read (one past the last record consumed), as Kafka commits it. */
  readonly offset: bigint;
}

/**
 * The consumer group a transaction commits offsets for. Only the group id for now: the
 * generation and member id that let the broker fence a zombie consumer (KIP-447) come from
 * a consumer of the same client, and the consumers of this port are kafkajs ones.
 */
export interface ConsumerGroupMetadata {
  readonly groupId: string;
}

/** An open Kafka transaction. Its records become visible to read_committed consumers together at commit. */
export interface KafkaTransaction {
  /**
   * Produces `records` into the transaction; resolves once the broker acknowledged every
   * one of them (acks=all), rejects when any of them failed.
   */
  send(records: readonly OutgoingRecord[]): Promise<void>;
  /**
   * Hands `records` to the transaction without waiting for the broker: resolves once the
   * client holds every one of them (waiting for room when its bounded queue is full), and
   * rejects when any cannot be taken or a record handed over earlier was refused. Records
   * go out in order per partition, as with send().
   */
  produce(records: readonly OutgoingRecord[]): Promise<void>;
  /**
   * Commits: waits for every record sent or produced into the transaction, and fails (the
   * transaction must then be aborted) when any of them was not delivered, so nothing of a
   * transaction with a lost record becomes visible.
   */
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * A transaction that can also commit a consumer group's offsets, for a consume → transform
 * → produce stream: the offsets become the group's committed offsets if and only if the
 * transaction commits.
 */
export interface TransactionWithOffsets extends KafkaTransaction {
  /**
   * Adds the group's next offsets to the transaction. Without a generation and member id
   * (see {@link ConsumerGroupMetadata}) the broker cannot fence a consumer that lost its
   * partitions; until the consumers move to librdkafka, a stream keeps one transactional id
   * per input partition, so a successor fences its predecessor through the producer.
   */
  sendOffsets(
    group: string | ConsumerGroupMetadata,
    offsets: readonly GroupOffset[],
  ): Promise<void>;
}

/**
 * An idempotent, transactional producer. One transaction at a time. Creating it fences any
 * older producer with the same transactional id: the broker aborts that producer's open
 * transaction before this one is returned, so read_committed readers are not held back by it.
 * Every operation is bounded by the port's operation deadline and fails as retriable
 * KAFKA_UNAVAILABLE past it (or as KAFKA_REFUSED when retrying cannot help).
 *
 * After any failure, abort the transaction and replace the producer rather than begin
 * another: after a record the broker refused (say, too large), librdkafka 2.15 fails the
 * next transaction of the same producer once more (a gap in its idempotent sequence).
 */
export interface TransactionalProducer<T extends KafkaTransaction = KafkaTransaction> {
  begin(): Promise<T>;
  /** Lets the producer go; never takes longer than the operation deadline. */
  disconnect(): Promise<void>;
}

/** Options of a transactional producer. */
export interface TransactionalProducerOptions {
  readonly transactionalId: string;
  /** Longest a transaction may stay open before the broker aborts it (ms; 60 s by default). */
  readonly transactionTimeoutMs?: number;
}

/** Options of a consumer. */
export interface ConsumerOptions {
  readonly groupId: string;
  /** Most bytes per partition per fetch. */
  readonly maxBytesPerPartition?: number;
  readonly sessionTimeoutMs?: number;
  /** Partitions whose batches are handled at the same time (1 by default). */
  readonly partitionsConsumedConcurrently?: number;
}

/** Controls given to a batch handler. */
export interface BatchControls {
  /** Tells the group coordinator the member is alive during long batches. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping: finish quickly. */
  isRunning(): boolean;
}

/** A read_committed consumer in a group, offsets committed explicitly only. */
export interface KafkaConsumer {
  subscribe(topics: readonly string[], options: { fromBeginning: boolean }): Promise<void>;
  /**
   * Starts fetching. Each batch is handed to `onBatch`; the next batch of the partition waits
   * for it. Offsets are never committed automatically.
   */
  run(onBatch: (batch: IncomingBatch, controls: BatchControls) => Promise<void>): Promise<void>;
  /** Commits `offset` as the next offset to read for each partition. */
  commit(offsets: readonly { topic: string; partition: number; offset: bigint }[]): Promise<void>;
  seek(topic: string, partition: number, offset: bigint): void;
  /** Called with the error when the consumer crashes and will not restart by itself. */
  onCrash(listener: (error: Error) => void): void;
  /**
   * Called each time the member joins the group (start and every rebalance) with its new
   * assignment. Fetching resumes from committed offsets after a rebalance, so state kept
   * per partition should be rebuilt from durable positions here.
   */
  onAssignment(listener: (assignment: readonly Assignment[]) => void): void;
  /**
   * Called when the consumer moved past records that never reach `run`'s handler: batches
   * of transaction markers or aborted records only.
   */
  onPositionAdvanced(listener: (advance: PositionAdvance) => void): void;
  stop(): Promise<void>;
  disconnect(): Promise<void>;
}

/** A range of one partition to read: offsets in [from, to). */
export interface PartitionRange {
  readonly topic: string;
  readonly partition: number;
  readonly from: bigint;
  /** Exclusive end; usually the last stable offset from {@link KafkaAdmin.topicOffsets}. */
  readonly to: bigint;
}

/** Options of {@link KafkaPort.readRange}. */
export interface ReadRangeOptions {
  timeoutMs?: number;
  /** Also records of open and aborted transactions (diagnostics; never for restores). */
  uncommitted?: boolean;
  /**
   * Ends the read early: once aborted, no further record is handed over and the read
   * resolves (after the consumer stopped) with what was handed over so far.
   */
  signal?: AbortSignal;
}

/** The entry point of the port. */
export interface KafkaPort {
  admin(): Promise<KafkaAdmin>;
  /**
   * Reads committed records of one partition in [from, to) and resolves once the consumer's
   * position reached `to` (transaction markers and aborted records count as read), or once
   * `options.signal` aborted it. Uses a throw-away consumer group that commits nothing.
   */
  readRange(
    range: PartitionRange,
    onRecords: (records: readonly IncomingRecord[]) => Promise<void> | void,
    options?: ReadRangeOptions,
  ): Promise<void>;
  /** Resolves once the producer fenced its predecessors (see {@link TransactionalProducer}). */
  transactionalProducer(
    options: TransactionalProducerOptions,
  ): Promise<TransactionalProducer<TransactionWithOffsets>>;
  consumer(options: ConsumerOptions): Promise<KafkaConsumer>;
}
