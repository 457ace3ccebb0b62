/**
 * The buffer of one partition (pure): records read since the last flush, grouped by
 * tenant, and the partition range they cover. The range is [from, position): `from` is
 * where the previous flush ended, `position` the consumer's position after the last batch
 * read (transaction markers included), so consecutive flushes cover contiguous ranges.
 */
import { TXLOG_HEADERS } from '../../shared/events/index.js';
import type { IncomingRecord } from '../../shared/kafka/index.js';

/** A record as buffered: its offset, the encoded event and its schema fingerprint header. */
export interface BufferedRecord {
  readonly offset: bigint;
  readonly value: Buffer;
  /** The `bt-schema` header: the event schema the value is encoded with. */
  readonly schema: string | undefined;
}

/** A range taken out of the buffer to be flushed. */
export interface SealedRange {
  readonly topic: string;
  readonly partition: number;
  readonly from: bigint;
  readonly to: bigint;
  /** Records of the range in offset order (every tenant). */
  readonly records: readonly BufferedRecord[];
  readonly bytes: number;
  /** Why it was sealed. */
  readonly reason: FlushReason;
}

/** Why a range is flushed. */
export type FlushReason = 'size' | 'age' | 'gap' | 'shutdown';

/** When to flush. */
export interface FlushLimits {
  /** A tenant's buffered bytes that trigger a flush. */
  readonly maxBytes: number;
  /** Age of the oldest buffered record that triggers a flush (ms). */
  readonly maxAgeMs: number;
}

/** Total buffered bytes of a partition, in multiples of maxBytes, that also trigger a flush. */
const PARTITION_BYTES_FACTOR = 4;

/** Buffers one partition between flushes. */
export class PartitionBuffer {
  private records: BufferedRecord[] = [];
  private readonly tenantBytes = new Map<string, number>();
  private largestTenantBytes = 0;
  private totalBytes = 0;
  private oldestAtMs: number | undefined;
  private start: bigint;
  private next: bigint;

  constructor(
    readonly topic: string,
    readonly partition: number,
    from: bigint,
  ) {
    this.start = from;
    this.next = from;
  }

  /** Where the buffered range starts. */
  get from(): bigint {
    return this.start;
  }

  /** The next offset not yet read: where the buffered range ends. */
  get position(): bigint {
    return this.next;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get events(): number {
    return this.records.length;
  }

  /** When the oldest buffered record arrived (ms), or undefined when empty. */
  get oldestAt(): number | undefined {
    return this.oldestAtMs;
  }

  /**
   * Adds a batch read up to `nextOffset`. Records before the position were read already
   * (a re-delivery after a restart or rebalance) and are ignored; records without a value
   * carry nothing to archive.
   */
  add(records: readonly IncomingRecord[], nextOffset: bigint, nowMs: number): void {
    for (const record of records) {
      if (record.offset < this.next || record.value === null) continue;
      const tenant = record.key?.toString('utf8') ?? '';
      const size = record.value.length;
      this.records.push({
        offset: record.offset,
        value: record.value,
        schema: record.headers[TXLOG_HEADERS.schema]?.toString('utf8'),
      });
      const tenantTotal = (this.tenantBytes.get(tenant) ?? 0) + size;
      this.tenantBytes.set(tenant, tenantTotal);
      this.largestTenantBytes = Math.max(this.largestTenantBytes, tenantTotal);
      this.totalBytes += size;
      this.oldestAtMs ??= nowMs;
      this.next = record.offset + 1n;
    }
    this.advance(nextOffset);
  }

  /** Moves the position past records that carried no data (transaction markers). */
  advance(nextOffset: bigint): void {
    if (nextOffset > this.next) this.next = nextOffset;
  }

  /** Whether a flush is due, and why. */
  due(nowMs: number, limits: FlushLimits): FlushReason | undefined {
    if (this.records.length === 0) return undefined;
    if (
      this.largestTenantBytes >= limits.maxBytes ||
      this.totalBytes >= PARTITION_BYTES_FACTOR * limits.maxBytes
    ) {
      return 'size';
    }
    if (this.oldestAtMs !== undefined && nowMs - this.oldestAtMs >= limits.maxAgeMs) return 'age';
    return undefined;
  }

  /**
   * Takes the buffered range out: [from, position) with its records. The buffer then starts
   * at the position. Undefined when nothing is buffered (the range then simply grows).
   */
  seal(reason: FlushReason): SealedRange | undefined {
    if (this.records.length === 0) return undefined;
    const sealed: SealedRange = {
      topic: this.topic,
      partition: this.partition,
      from: this.start,
      to: this.next,
      records: this.records,
      bytes: this.totalBytes,
      reason,
    };
    this.records = [];
    this.tenantBytes.clear();
    this.largestTenantBytes = 0;
    this.totalBytes = 0;
    this.oldestAtMs = undefined;
    this.start = this.next;
    return sealed;
  }

  /**
   * Restarts the range at `offset` (> position): the consumer jumped, so positions
   * [position, offset) were never read. Only valid on an empty buffer.
   */
  jumpTo(offset: bigint): void {
    if (this.records.length > 0) throw new Error('jumpTo on a buffer holding records');
    this.start = offset;
    this.next = offset;
  }
}
