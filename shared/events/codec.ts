/**
 * The Avro schema of {@link ChangeEvent} (versioned by its namespace; identified on the
 * wire by its SHA-256 fingerprint) and the binary codec. Longs (LSNs, times, xids) are
 * decoded as bigint, never as JS numbers that would round past 2^53.
 */
import avro from 'avsc';

import { BacktrackError } from '../errors.js';
import { lsnFromBigInt } from '../lsn.js';

import type { ChangeEvent, ChangeOp, ColumnValue, EventColumn } from './change-event.js';
import { writeChangeEvent } from './event-encoder.js';

/** Version of the event schema; part of the Avro namespace. */
export const EVENT_SCHEMA_VERSION = 1;

/** Avro `long` as a JS bigint. */
const bigintLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(n);
    return buf;
  },
  fromJSON: (json: unknown) => BigInt(json as string | number),
  toJSON: (n: bigint) => n.toString(),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

const valueSchema = {
  type: 'record',
  name: 'Value',
  fields: [
    {
      name: 'kind',
      type: {
        type: 'enum',
        name: 'ValueKind',
        symbols: ['NULL', 'TEXT', 'UNCHANGED_TOAST', 'ABSENT'],
      },
    },
    { name: 'text', type: ['null', 'string'], default: null },
  ],
} as const;

/** The Avro schema of a change event (JSON form). */
export const CHANGE_EVENT_AVRO_SCHEMA = {
  type: 'record',
  name: 'ChangeEvent',
  namespace: `dev.backtrack.events.v${EVENT_SCHEMA_VERSION}`,
  doc: 'One change of one committed Postgres transaction, values in Postgres text form.',
  fields: [
    { name: 'tenant', type: 'string' },
    { name: 'schema', type: 'string' },
    { name: 'table', type: 'string' },
    {
      name: 'op',
      type: {
        type: 'enum',
        name: 'Op',
        symbols: ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'SCHEMA'],
      },
    },
    {
      name: 'relation',
      type: {
        type: 'record',
        name: 'Relation',
        fields: [
          { name: 'oid', type: 'long' },
          { name: 'version', type: 'string' },
          {
            name: 'columns',
            type: {
              type: 'array',
              items: {
                type: 'record',
                name: 'Column',
                fields: [
                  { name: 'name', type: 'string' },
                  { name: 'typeOid', type: 'long' },
                  { name: 'typeName', type: 'string' },
                  { name: 'typeMod', type: 'int' },
                  { name: 'primaryKey', type: 'boolean' },
                  { name: 'missing', type: ['null', 'string'], default: null },
                ],
              },
            },
          },
        ],
      },
    },
    { name: 'before', type: ['null', { type: 'array', items: valueSchema }], default: null },
    { name: 'after', type: ['null', { type: 'array', items: 'Value' }], default: null },
    {
      name: 'truncate',
      type: [
        'null',
        {
          type: 'record',
          name: 'Truncate',
          fields: [
            { name: 'cascade', type: 'boolean' },
            { name: 'restartIdentity', type: 'boolean' },
          ],
        },
      ],
      default: null,
    },
    { name: 'xid', type: 'long' },
    { name: 'commitLsn', type: 'long' },
    { name: 'eventLsn', type: 'long' },
    { name: 'commitTimeUs', type: 'long' },
    { name: 'sequence', type: 'int' },
    { name: 'origin', type: ['null', 'string'], default: null },
    {
      name: 'claim',
      type: [
        'null',
        {
          type: 'record',
          name: 'Claim',
          fields: [
            { name: 'key', type: 'string' },
            { name: 'sha256', type: 'string' },
            { name: 'size', type: 'long' },
          ],
        },
      ],
      default: null,
    },
  ],
} as const;

/** The avsc type of a change event (longs as bigint). */
export const changeEventType = avro.Type.forSchema(
  CHANGE_EVENT_AVRO_SCHEMA as unknown as avro.Schema,
  { registry: { long: bigintLong } },
);

/** Hex SHA-256 fingerprint of the canonical schema: what readers check in headers and files. */
export const EVENT_SCHEMA_FINGERPRINT = changeEventType.fingerprint('sha256').toString('hex');

type AvroKind = 'NULL' | 'TEXT' | 'UNCHANGED_TOAST' | 'ABSENT';
interface AvroValue {
  kind: AvroKind;
  text: string | null;
}
/** What the avsc type yields for this schema (the decoder guarantees the shape). */
interface AvroChangeEvent {
  tenant: string;
  schema: string;
  table: string;
  op: 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE' | 'SCHEMA';
  relation: {
    oid: bigint;
    version: string;
    columns: {
      name: string;
      typeOid: bigint;
      typeName: string;
      typeMod: number;
      primaryKey: boolean;
      missing: string | null;
    }[];
  };
  before: AvroValue[] | null;
  after: AvroValue[] | null;
  truncate: { cascade: boolean; restartIdentity: boolean } | null;
  xid: bigint;
  commitLsn: bigint;
  eventLsn: bigint;
  commitTimeUs: bigint;
  sequence: number;
  origin: string | null;
  claim: { key: string; sha256: string; size: bigint } | null;
}

const OP_TO_AVRO: Record<ChangeOp, AvroChangeEvent['op']> = {
  insert: 'INSERT',
  update: 'UPDATE',
  delete: 'DELETE',
  truncate: 'TRUNCATE',
  schema: 'SCHEMA',
};
const OP_FROM_AVRO: Record<AvroChangeEvent['op'], ChangeOp> = {
  INSERT: 'insert',
  UPDATE: 'update',
  DELETE: 'delete',
  TRUNCATE: 'truncate',
  SCHEMA: 'schema',
};

// Shared instances: a row of a million values allocates no per-value kind objects.
const NULL_VALUE: ColumnValue = Object.freeze({ kind: 'null' });
const TOAST_VALUE: ColumnValue = Object.freeze({ kind: 'unchanged-toast' });
const ABSENT_VALUE: ColumnValue = Object.freeze({ kind: 'absent' });
const AVRO_NULL: AvroValue = Object.freeze({ kind: 'NULL', text: null });
const AVRO_TOAST: AvroValue = Object.freeze({ kind: 'UNCHANGED_TOAST', text: null });
const AVRO_ABSENT: AvroValue = Object.freeze({ kind: 'ABSENT', text: null });

function valueToAvro(value: ColumnValue): AvroValue {
  switch (value.kind) {
    case 'null':
      return AVRO_NULL;
    case 'text':
      return { kind: 'TEXT', text: value.text };
    case 'unchanged-toast':
      return AVRO_TOAST;
    case 'absent':
      return AVRO_ABSENT;
  }
}

function valueFromAvro(value: AvroValue): ColumnValue {
  switch (value.kind) {
    case 'NULL':
      return NULL_VALUE;
    case 'TEXT':
      if (value.text === null) {
        throw new BacktrackError('INTEGRITY_FAILED', 'change event has a TEXT value without text');
      }
      return { kind: 'text', text: value.text };
    case 'UNCHANGED_TOAST':
      return TOAST_VALUE;
    case 'ABSENT':
      return ABSENT_VALUE;
  }
}

/** The Avro form of an event (for the codec and for container files). */
export function toAvroRecord(event: ChangeEvent): AvroChangeEvent {
  return {
    tenant: event.tenant,
    schema: event.schema,
    table: event.table,
    op: OP_TO_AVRO[event.op],
    relation: {
      oid: BigInt(event.relation.oid),
      version: event.relation.version,
      columns: event.relation.columns.map((c) => ({
        name: c.name,
        typeOid: BigInt(c.typeOid),
        typeName: c.typeName,
        typeMod: c.typeMod,
        primaryKey: c.primaryKey,
        missing: c.missing ?? null,
      })),
    },
    before: event.before ? event.before.map(valueToAvro) : null,
    after: event.after ? event.after.map(valueToAvro) : null,
    truncate: event.truncate ? { ...event.truncate } : null,
    xid: BigInt(event.xid),
    commitLsn: event.commitLsn,
    eventLsn: event.eventLsn,
    commitTimeUs: event.commitTimeUs,
    sequence: event.sequence,
    origin: event.origin,
    claim: event.claim ? { ...event.claim, size: BigInt(event.claim.size) } : null,
  };
}

/** An event from its Avro form (as decoded by {@link changeEventType}). */
export function fromAvroRecord(decoded: unknown): ChangeEvent {
  // The avsc decoder validated the bytes against the schema, so the shape is known.
  const raw = decoded as AvroChangeEvent;
  const columns: EventColumn[] = raw.relation.columns.map((c) => ({
    name: c.name,
    typeOid: Number(c.typeOid),
    typeName: c.typeName,
    typeMod: c.typeMod,
    primaryKey: c.primaryKey,
    ...(c.missing === null ? {} : { missing: c.missing }),
  }));
  return {
    tenant: raw.tenant,
    schema: raw.schema,
    table: raw.table,
    op: OP_FROM_AVRO[raw.op],
    relation: { oid: Number(raw.relation.oid), version: raw.relation.version, columns },
    before: raw.before ? raw.before.map(valueFromAvro) : null,
    after: raw.after ? raw.after.map(valueFromAvro) : null,
    truncate: raw.truncate
      ? { cascade: raw.truncate.cascade, restartIdentity: raw.truncate.restartIdentity }
      : null,
    xid: Number(raw.xid),
    commitLsn: lsnFromBigInt(raw.commitLsn),
    eventLsn: lsnFromBigInt(raw.eventLsn),
    commitTimeUs: raw.commitTimeUs,
    sequence: raw.sequence,
    origin: raw.origin,
    claim: raw.claim
      ? { key: raw.claim.key, sha256: raw.claim.sha256, size: Number(raw.claim.size) }
      : null,
  };
}

/**
 * Avro binary encoding of one event (no framing; the fingerprint travels in a header), by
 * the hand-written encoder of event-encoder.ts: the same bytes as avsc's, at a fraction of
 * the cost.
 */
export function encodeChangeEvent(event: ChangeEvent): Buffer {
  return writeChangeEvent(event);
}

/** Decodes one event; throws INTEGRITY_FAILED when the bytes are not a valid event. */
export function decodeChangeEvent(bytes: Buffer): ChangeEvent {
  let decoded: unknown;
  try {
    decoded = changeEventType.fromBuffer(bytes);
  } catch (cause) {
    throw new BacktrackError(
      'INTEGRITY_FAILED',
      `not a change event (schema v${EVENT_SCHEMA_VERSION}): ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  return fromAvroRecord(decoded);
}
