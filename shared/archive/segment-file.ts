/**
 * The segment file: one tenant's events of one partition range, as an Avro object
 * container file with the deflate codec (written by avro-container.ts straight from the
 * events' Avro bytes, read with avsc's BlockDecoder), optionally encrypted as a whole
 * (encryption.ts). Each record is `{ offset, event }`: the Kafka offset of the event and
 * the event itself in the change-event schema (longs as bigint).
 *
 * The container's metadata makes a segment self-describing without the catalog: tenant,
 * topic, partition, the range [from, to) of consumer positions it belongs to, first and
 * last data offsets, event count, commit LSN and commit time ranges, and the event-schema
 * fingerprint. Readers validate all of it against the records (verify and restore rely on
 * that), and decode records written with another event-schema version by Avro resolution.
 */
import { createHash } from 'node:crypto';
import { inflateRaw } from 'node:zlib';

import avro from 'avsc';
import { z } from 'zod';

import { BacktrackError } from '../errors.js';
import {
  type ChangeEvent,
  changeEventType,
  encodeChangeEvent,
  EVENT_SCHEMA_FINGERPRINT,
  fromAvroRecord,
} from '../events/index.js';
import { formatLsn, isLsnText, type Lsn, parseLsn } from '../lsn.js';

import { bigintLong, ContainerWriter, encodeLong } from './avro-container.js';
import { decrypt, encrypt, type Keyring, type MasterKey } from './encryption.js';
import type { EventSummary } from './event-summary.js';

/** The Avro codec of segments. */
export const SEGMENT_CODEC = 'deflate';
/** Version of the segment layout (record shape and metadata keys). */
export const SEGMENT_FORMAT = 'backtrack-segment/1';

/** One archived event and where it was in Kafka. */
export interface SegmentRecord {
  readonly offset: bigint;
  readonly event: ChangeEvent;
}

/** What a segment says about itself (in its container metadata and in the catalog). */
export interface SegmentMetadata {
  readonly tenant: string;
  readonly topic: string;
  readonly partition: number;
  /** The partition range this segment belongs to: consumer positions [rangeFrom, rangeTo). */
  readonly rangeFrom: bigint;
  readonly rangeTo: bigint;
  /** Offsets of the tenant's first and last event in the segment (data offsets, inclusive). */
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly eventCount: number;
  readonly minCommitLsn: Lsn;
  readonly maxCommitLsn: Lsn;
  /** Commit times, microseconds since the Unix epoch. */
  readonly minCommitTimeUs: bigint;
  readonly maxCommitTimeUs: bigint;
  readonly eventSchemaFingerprint: string;
}

/** What to write: a tenant's events of one range, in offset order. */
export interface SegmentInput {
  readonly tenant: string;
  readonly topic: string;
  readonly partition: number;
  readonly rangeFrom: bigint;
  readonly rangeTo: bigint;
  readonly records: readonly SegmentRecord[];
}

/** An event ready to archive: its offset, its Avro bytes as in Kafka, and its summary. */
export interface SegmentEntry {
  readonly offset: bigint;
  /** Avro binary of the event in the current change-event schema. */
  readonly event: Buffer;
  readonly summary: EventSummary;
}

/** What to write, from encoded events (the archiver's path: no decoding, no re-encoding). */
export interface SegmentEntriesInput {
  readonly tenant: string;
  readonly topic: string;
  readonly partition: number;
  readonly rangeFrom: bigint;
  readonly rangeTo: bigint;
  readonly entries: readonly SegmentEntry[];
}

/** An encoded segment, ready to upload. */
export interface EncodedSegment {
  /** The bytes to store (encrypted when a key was given). */
  readonly bytes: Buffer;
  readonly metadata: SegmentMetadata;
  /** Key id of the master key, when encrypted. */
  readonly keyId: string | undefined;
}

/** A decoded segment. */
export interface DecodedSegment {
  readonly metadata: SegmentMetadata;
  readonly records: readonly SegmentRecord[];
}

/** The record type of segments: `{ offset: long, event: ChangeEvent }`. */
export const segmentRecordType = avro.Type.forSchema(
  {
    type: 'record',
    name: 'SegmentRecord',
    namespace: 'dev.backtrack.archive.v1',
    fields: [
      { name: 'offset', type: 'long' },
      { name: 'event', type: changeEventType },
    ],
  } as unknown as avro.Schema,
  { registry: { long: bigintLong } },
);

const META = {
  format: 'backtrack.format',
  tenant: 'backtrack.tenant',
  topic: 'backtrack.topic',
  partition: 'backtrack.partition',
  rangeFrom: 'backtrack.range-from',
  rangeTo: 'backtrack.range-to',
  firstOffset: 'backtrack.first-offset',
  lastOffset: 'backtrack.last-offset',
  eventCount: 'backtrack.event-count',
  minCommitLsn: 'backtrack.min-commit-lsn',
  maxCommitLsn: 'backtrack.max-commit-lsn',
  minCommitTimeUs: 'backtrack.min-commit-time-us',
  maxCommitTimeUs: 'backtrack.max-commit-time-us',
  eventSchema: 'backtrack.event-schema',
} as const;

/** Records per Avro block before compression (bytes). */
const BLOCK_BYTES = 128 * 1024;

const digits = z.string().regex(/^\d+$/);
const metadataSchema = z.object({
  [META.format]: z.literal(SEGMENT_FORMAT),
  [META.tenant]: z.string().min(1),
  [META.topic]: z.string().min(1),
  [META.partition]: digits.transform(Number),
  [META.rangeFrom]: digits.transform(BigInt),
  [META.rangeTo]: digits.transform(BigInt),
  [META.firstOffset]: digits.transform(BigInt),
  [META.lastOffset]: digits.transform(BigInt),
  [META.eventCount]: digits.transform(Number),
  [META.minCommitLsn]: z.string().refine(isLsnText, 'not an LSN').transform(parseLsn),
  [META.maxCommitLsn]: z.string().refine(isLsnText, 'not an LSN').transform(parseLsn),
  [META.minCommitTimeUs]: digits.transform(BigInt),
  [META.maxCommitTimeUs]: digits.transform(BigInt),
  [META.eventSchema]: z.string().regex(/^[0-9a-f]{64}$/),
});

function integrity(what: string, why: string, cause?: unknown): BacktrackError {
  return new BacktrackError('INTEGRITY_FAILED', `segment ${what} is not valid: ${why}`, {
    cause,
    details: { object: what },
  });
}

/** The metadata of the given offsets and summaries; refuses empty, unordered or out-of-range ones. */
function metadataOfEntries(
  input: Omit<SegmentEntriesInput, 'entries'>,
  entries: readonly { readonly offset: bigint; readonly summary: EventSummary }[],
): SegmentMetadata {
  const [first] = entries;
  const last = entries.at(-1);
  if (!first || !last) {
    throw new BacktrackError('INTERNAL', `segment of ${input.tenant} has no events`);
  }
  let previous = -1n;
  let { commitLsn: minLsn, commitLsn: maxLsn } = first.summary;
  let { commitTimeUs: minTime, commitTimeUs: maxTime } = first.summary;
  for (const { offset, summary } of entries) {
    if (offset <= previous || offset < input.rangeFrom || offset >= input.rangeTo) {
      throw new BacktrackError(
        'INTERNAL',
        `segment of ${input.tenant}: offset ${offset} out of order or outside [${input.rangeFrom}, ${input.rangeTo})`,
      );
    }
    previous = offset;
    if (summary.commitLsn < minLsn) minLsn = summary.commitLsn;
    if (summary.commitLsn > maxLsn) maxLsn = summary.commitLsn;
    if (summary.commitTimeUs < minTime) minTime = summary.commitTimeUs;
    if (summary.commitTimeUs > maxTime) maxTime = summary.commitTimeUs;
  }
  return {
    tenant: input.tenant,
    topic: input.topic,
    partition: input.partition,
    rangeFrom: input.rangeFrom,
    rangeTo: input.rangeTo,
    firstOffset: first.offset,
    lastOffset: last.offset,
    eventCount: entries.length,
    minCommitLsn: minLsn,
    maxCommitLsn: maxLsn,
    minCommitTimeUs: minTime,
    maxCommitTimeUs: maxTime,
    eventSchemaFingerprint: EVENT_SCHEMA_FINGERPRINT,
  };
}

/** The summary of a decoded event. */
function summaryOf(event: ChangeEvent): EventSummary {
  return { tenant: event.tenant, commitLsn: event.commitLsn, commitTimeUs: event.commitTimeUs };
}

/** Computes the metadata of `input`; refuses an empty, unordered or out-of-range segment. */
export function segmentMetadataOf(input: SegmentInput): SegmentMetadata {
  return metadataOfEntries(
    input,
    input.records.map((r) => ({ offset: r.offset, summary: summaryOf(r.event) })),
  );
}

/** The metadata of a segment of encoded events. */
export function segmentEntriesMetadataOf(input: SegmentEntriesInput): SegmentMetadata {
  return metadataOfEntries(input, input.entries);
}

function metadataBytes(m: SegmentMetadata): Record<string, Buffer> {
  const text: Record<string, string> = {
    [META.format]: SEGMENT_FORMAT,
    [META.tenant]: m.tenant,
    [META.topic]: m.topic,
    [META.partition]: String(m.partition),
    [META.rangeFrom]: m.rangeFrom.toString(),
    [META.rangeTo]: m.rangeTo.toString(),
    [META.firstOffset]: m.firstOffset.toString(),
    [META.lastOffset]: m.lastOffset.toString(),
    [META.eventCount]: String(m.eventCount),
    [META.minCommitLsn]: formatLsn(m.minCommitLsn),
    [META.maxCommitLsn]: formatLsn(m.maxCommitLsn),
    [META.minCommitTimeUs]: m.minCommitTimeUs.toString(),
    [META.maxCommitTimeUs]: m.maxCommitTimeUs.toString(),
    [META.eventSchema]: m.eventSchemaFingerprint,
  };
  return Object.fromEntries(Object.entries(text).map(([k, v]) => [k, Buffer.from(v, 'utf8')]));
}

/** How segments are encoded. */
export interface SegmentEncodeOptions {
  /** Encrypts the segment with a fresh data key wrapped by this master key. */
  readonly encryptWith?: MasterKey | undefined;
  /** deflate level, 1…9 (6 by default). */
  readonly compressionLevel?: number;
}

/** The writer schema of segment files, as written into each file's header. */
const SEGMENT_SCHEMA_JSON = JSON.stringify(segmentRecordType.schema({ exportAttrs: true }));

const CHECKED = [
  'firstOffset',
  'lastOffset',
  'eventCount',
  'minCommitLsn',
  'maxCommitLsn',
  'minCommitTimeUs',
  'maxCommitTimeUs',
] as const;

/**
 * Writes a segment whose metadata is known before its records (compaction knows it from
 * the catalog): records are compressed block by block as they arrive, so only compressed
 * output is held. end() checks that the records matched the metadata, and refuses
 * otherwise. The same records give the same bytes (the sync marker derives from the
 * segment's identity) unless encrypted, which draws a fresh data key.
 */
export class SegmentWriter {
  private readonly container: ContainerWriter;
  private readonly seen: { offset: bigint; summary: EventSummary }[] = [];

  constructor(
    readonly metadata: SegmentMetadata,
    private readonly options: SegmentEncodeOptions = {},
  ) {
    const m = metadata;
    const identity = `${m.tenant}\0${m.topic}\0${m.partition}\0${m.firstOffset}\0${m.lastOffset}`;
    this.container = new ContainerWriter(
      SEGMENT_SCHEMA_JSON,
      metadataBytes(metadata),
      createHash('sha256').update(identity).digest().subarray(0, 16),
      { blockBytes: BLOCK_BYTES, level: options.compressionLevel ?? 6 },
    );
  }

  /** Appends an encoded event (in offset order). */
  writeEntry(entry: SegmentEntry): void {
    const last = this.seen.at(-1);
    const m = this.metadata;
    if (
      (last && entry.offset <= last.offset) ||
      entry.offset < m.rangeFrom ||
      entry.offset >= m.rangeTo
    ) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `segment of ${m.tenant}: offset ${entry.offset} out of order or outside [${m.rangeFrom}, ${m.rangeTo})`,
      );
    }
    this.seen.push({ offset: entry.offset, summary: entry.summary });
    // A record's Avro encoding is its fields' encodings in order: offset, then the event.
    this.container.append(encodeLong(entry.offset), entry.event);
  }

  /** Appends a decoded event (in offset order). */
  write(record: SegmentRecord): void {
    this.writeEntry({
      offset: record.offset,
      event: encodeChangeEvent(record.event),
      summary: summaryOf(record.event),
    });
  }

  /** Finishes the file; INTEGRITY_FAILED when the records disagree with the metadata. */
  async end(): Promise<EncodedSegment> {
    const m = this.metadata;
    const seen = this.seen.length > 0 ? metadataOfEntries(m, this.seen) : undefined;
    const mismatch =
      seen === undefined ? 'no events' : CHECKED.find((name) => seen[name] !== m[name]);
    if (mismatch) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `segment of ${m.tenant} [${m.firstOffset}…${m.lastOffset}]: its records disagree with its metadata (${mismatch})`,
      );
    }
    const plain = await this.container.finish();
    const key = this.options.encryptWith;
    return { bytes: key ? encrypt(plain, key) : plain, metadata: m, keyId: key?.id };
  }
}

/** Encodes a segment from decoded events (metadata computed from them). */
export async function encodeSegment(
  input: SegmentInput,
  options: SegmentEncodeOptions = {},
): Promise<EncodedSegment> {
  const writer = new SegmentWriter(segmentMetadataOf(input), options);
  for (const record of input.records) writer.write(record);
  return writer.end();
}

/** Encodes a segment from encoded events, copying their bytes (the archiver's path). */
export async function encodeSegmentEntries(
  input: SegmentEntriesInput,
  options: SegmentEncodeOptions = {},
): Promise<EncodedSegment> {
  const writer = new SegmentWriter(segmentEntriesMetadataOf(input), options);
  for (const entry of input.entries) writer.writeEntry(entry);
  return writer.end();
}

/** The Avro block decoder of segment files: the writer's schema resolved to this version's. */
function blockDecoder(): avro.streams.BlockDecoder {
  return new avro.streams.BlockDecoder({
    readerSchema: segmentRecordType,
    codecs: {
      deflate: inflateRaw,
      null: (buf: Buffer, cb: (e: null, b: Buffer) => void) => cb(null, buf),
    },
    parseHook: (schema: avro.Schema) =>
      avro.Type.forSchema(schema, { registry: { long: bigintLong } }),
  });
}

function parseMetadata(header: Record<string, Buffer>, what: string): SegmentMetadata {
  const text = Object.fromEntries(Object.entries(header).map(([k, v]) => [k, v.toString('utf8')]));
  const parsed = metadataSchema.safeParse(text);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw integrity(
      what,
      `its metadata is incomplete (${String(first?.path[0])}: ${first?.message})`,
    );
  }
  const m = parsed.data;
  return {
    tenant: m[META.tenant],
    topic: m[META.topic],
    partition: m[META.partition],
    rangeFrom: m[META.rangeFrom],
    rangeTo: m[META.rangeTo],
    firstOffset: m[META.firstOffset],
    lastOffset: m[META.lastOffset],
    eventCount: m[META.eventCount],
    minCommitLsn: m[META.minCommitLsn],
    maxCommitLsn: m[META.maxCommitLsn],
    minCommitTimeUs: m[META.minCommitTimeUs],
    maxCommitTimeUs: m[META.maxCommitTimeUs],
    eventSchemaFingerprint: m[META.eventSchema],
  };
}

/** The metadata recomputed from events as they pass, in constant memory. */
class MetadataTally {
  private count = 0;
  private first = -1n;
  private last = -1n;
  private minLsn: Lsn | undefined;
  private maxLsn: Lsn | undefined;
  private minTime = 0n;
  private maxTime = 0n;

  constructor(readonly expected: SegmentMetadata) {}

  add(offset: bigint, summary: EventSummary, what: string): void {
    const { rangeFrom, rangeTo } = this.expected;
    if (offset <= this.last || offset < rangeFrom || offset >= rangeTo) {
      throw integrity(what, `offset ${offset} out of order or outside [${rangeFrom}, ${rangeTo})`);
    }
    if (this.count === 0) {
      this.first = offset;
      this.minLsn = this.maxLsn = summary.commitLsn;
      this.minTime = this.maxTime = summary.commitTimeUs;
    }
    this.count += 1;
    this.last = offset;
    if (this.minLsn === undefined || summary.commitLsn < this.minLsn)
      this.minLsn = summary.commitLsn;
    if (this.maxLsn === undefined || summary.commitLsn > this.maxLsn)
      this.maxLsn = summary.commitLsn;
    if (summary.commitTimeUs < this.minTime) this.minTime = summary.commitTimeUs;
    if (summary.commitTimeUs > this.maxTime) this.maxTime = summary.commitTimeUs;
  }

  /** Throws INTEGRITY_FAILED naming the first field where the events and metadata differ. */
  check(what: string): void {
    const metadata = this.expected;
    if (this.count !== metadata.eventCount) {
      throw integrity(
        what,
        `it holds ${this.count} events, its metadata says ${metadata.eventCount}`,
      );
    }
    if (this.minLsn === undefined || this.maxLsn === undefined) {
      throw integrity(what, 'it holds no events');
    }
    const recomputed: SegmentMetadata = {
      ...metadata,
      firstOffset: this.first,
      lastOffset: this.last,
      eventCount: this.count,
      minCommitLsn: this.minLsn,
      maxCommitLsn: this.maxLsn,
      minCommitTimeUs: this.minTime,
      maxCommitTimeUs: this.maxTime,
    };
    checkAgainstMetadata(metadata, recomputed, what);
  }
}

/** Throws INTEGRITY_FAILED naming the first field where `recomputed` differs from `metadata`. */
function checkAgainstMetadata(
  metadata: SegmentMetadata,
  recomputed: SegmentMetadata,
  what: string,
): void {
  const mismatch = (Object.keys(recomputed) as (keyof SegmentMetadata)[]).find(
    (name) => name !== 'eventSchemaFingerprint' && recomputed[name] !== metadata[name],
  );
  if (mismatch) {
    throw integrity(
      what,
      `its ${mismatch} is ${String(metadata[mismatch])} in the metadata but ${String(recomputed[mismatch])} in the events`,
    );
  }
}

/**
 * Reads stored segment bytes event by event: decrypts (when encrypted), decodes one Avro
 * block at a time (the writer's event schema resolved to this version's) and hands each
 * record to `onRecord` as it is decoded, so a large segment is never held decoded whole.
 * The records are checked against the metadata as they pass and at the end; a segment that
 * fails a check throws INTEGRITY_FAILED (after `onRecord` has seen the records before the
 * fault: callers discard what they built). DECRYPTION_FAILED without the right key.
 */
export async function readSegment(
  stored: Buffer,
  keyring: Keyring,
  what: string,
  onRecord: (record: SegmentRecord) => void | Promise<void>,
): Promise<SegmentMetadata> {
  const plain = decrypt(stored, keyring, what);
  const decoder = blockDecoder();
  let header: Record<string, Buffer> | undefined;
  decoder.on('metadata', (_type: unknown, _codec: string, h: { meta: Record<string, Buffer> }) => {
    header = h.meta;
  });
  let tally: MetadataTally | undefined;
  const tallied = (): MetadataTally => {
    if (!header) throw integrity(what, 'it has no Avro header');
    tally ??= new MetadataTally(parseMetadata(header, what));
    return tally;
  };
  const values = decoder[Symbol.asyncIterator]() as AsyncIterator<unknown>;
  try {
    for (let started = false; ;) {
      let step: IteratorResult<unknown>;
      try {
        if (!started) {
          started = true;
          decoder.end(plain);
        }
        step = await values.next();
      } catch (cause) {
        throw integrity(
          what,
          `it is not a readable Avro container (${(cause as Error).message})`,
          cause,
        );
      }
      if (step.done === true) break;
      const value = step.value as { offset: bigint; event: unknown };
      const { expected } = tallied();
      let event: ChangeEvent;
      try {
        event = fromAvroRecord(value.event);
      } catch (cause) {
        throw integrity(what, `the event at offset ${value.offset} is invalid`, cause);
      }
      if (event.tenant !== expected.tenant) {
        throw integrity(
          what,
          `the event at offset ${value.offset} belongs to tenant ${event.tenant}`,
        );
      }
      tallied().add(value.offset, summaryOf(event), what);
      await onRecord({ offset: value.offset, event });
    }
  } finally {
    decoder.destroy();
  }
  const done = tallied();
  done.check(what);
  return done.expected;
}

/**
 * Decodes stored segment bytes whole: every record in memory ({@link readSegment} streams
 * them). Throws DECRYPTION_FAILED without the right key, INTEGRITY_FAILED for anything
 * malformed.
 */
export async function decodeSegment(
  stored: Buffer,
  keyring: Keyring,
  what: string,
): Promise<DecodedSegment> {
  const records: SegmentRecord[] = [];
  const metadata = await readSegment(stored, keyring, what, (record) => {
    records.push(record);
  });
  return { metadata, records };
}
