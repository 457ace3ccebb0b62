/**
 * The Avro binary encoding of a {@link ChangeEvent}, written by hand for capture's hot path:
 * byte for byte what avsc writes for CHANGE_EVENT_AVRO_SCHEMA (codec.test.ts holds the two
 * equal), without the intermediate Avro-shaped objects, a zero-filled buffer per record or
 * a bigint round trip per long. A relation's encoding is computed once per relation version.
 *
 * Avro binary, as used here: int and long are zig-zag varints; a string is its UTF-8 byte
 * length then the bytes; an enum is its symbol's index; a union is the branch index then the
 * value; an array is one block (item count, items) then 0; a record is its fields in order.
 */
import type { ChangeEvent, ChangeOp, ColumnValue, RelationVersion } from './change-event.js';

const OP_INDEX: Readonly<Record<ChangeOp, number>> = {
  insert: 0,
  update: 1,
  delete: 2,
  truncate: 3,
};
/** Indexes of ValueKind: NULL, TEXT, UNCHANGED_TOAST, ABSENT. */
const KIND_TEXT = 1;
const KIND_INDEX: Readonly<Record<ColumnValue['kind'], number>> = {
  null: 0,
  text: KIND_TEXT,
  'unchanged-toast': 2,
  absent: 3,
};
const TWO_32 = 2 ** 32;
const INITIAL_BYTES = 64 * 1024;
const MAX_KEPT_BYTES = 1024 * 1024;

/** A growable buffer that the encoder writes into; reused from one event to the next. */
class Output {
  buf = Buffer.allocUnsafe(INITIAL_BYTES);
  pos = 0;

  reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.pos++] = b;
  }

  /** A zig-zag varint of a safe integer (Avro int and long alike). */
  varint(n: number): void {
    this.reserve(10);
    let z = n >= 0 ? n * 2 : -n * 2 - 1;
    const buf = this.buf;
    let pos = this.pos;
    while (z >= 0x80) {
      buf[pos++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    buf[pos++] = z;
    this.pos = pos;
  }

  /** An Avro long from a bigint: the number path below 2^53, bit by bit beyond. */
  long(n: bigint): void {
    if (n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER)) {
      this.varint(Number(n));
      return;
    }
    if (n !== BigInt.asIntN(64, n)) throw new TypeError(`${n} is not an Avro long`);
    this.reserve(10);
    let z = BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));
    while (z >= 0x80n) {
      this.buf[this.pos++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    this.buf[this.pos++] = Number(z);
  }

  string(s: string): void {
    // Short ASCII strings dominate; byteLength is exact for any string.
    const bytes = Buffer.byteLength(s, 'utf8');
    this.varint(bytes);
    this.reserve(bytes);
    this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
  }

  boolean(b: boolean): void {
    this.byte(b ? 1 : 0);
  }

  /** The union ['null', string]. */
  nullableString(s: string | null | undefined): void {
    if (s === null || s === undefined) {
      this.byte(0);
    } else {
      this.byte(2);
      this.string(s);
    }
  }

  bytes(b: Buffer): void {
    this.reserve(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  /** The bytes written since `from`, copied out (small results come from Node's pool). */
  take(from = 0): Buffer {
    const out = Buffer.allocUnsafe(this.pos - from);
    this.buf.copy(out, 0, from, this.pos);
    this.pos = from;
    // After an unusually large event, the scratch goes back to its usual size.
    if (this.buf.length > MAX_KEPT_BYTES) this.buf = Buffer.allocUnsafe(INITIAL_BYTES);
    return out;
  }
}

const output = new Output();
const relations = new WeakMap<RelationVersion, Buffer>();

function writeRelation(out: Output, relation: RelationVersion): void {
  out.varint(relation.oid);
  out.string(relation.version);
  if (relation.columns.length > 0) {
    out.varint(relation.columns.length);
    for (const c of relation.columns) {
      out.string(c.name);
      out.varint(c.typeOid);
      out.string(c.typeName);
      out.varint(c.typeMod);
      out.boolean(c.primaryKey);
      out.nullableString(c.missing);
    }
  }
  out.varint(0);
}

/** The relation's encoding, computed once per relation version. */
function relationBytes(relation: RelationVersion): Buffer {
  let bytes = relations.get(relation);
  if (!bytes) {
    const scratch = new Output();
    writeRelation(scratch, relation);
    bytes = scratch.take();
    relations.set(relation, bytes);
  }
  return bytes;
}

function writeValues(out: Output, values: readonly ColumnValue[] | null): void {
  if (values === null) {
    out.byte(0);
    return;
  }
  out.byte(2);
  if (values.length > 0) {
    out.varint(values.length);
    for (const v of values) {
      const kind = KIND_INDEX[v.kind];
      out.byte(kind * 2);
      if (v.kind === 'text') {
        out.byte(2);
        out.string(v.text);
      } else {
        out.byte(0);
      }
    }
  }
  out.varint(0);
}

function checkInt(name: string, n: number): void {
  if (!Number.isInteger(n) || n < -TWO_32 / 2 || n >= TWO_32 / 2) {
    throw new TypeError(`${name} ${n} is not an Avro int`);
  }
}

function checkLong(name: string, n: number): void {
  if (!Number.isSafeInteger(n)) throw new TypeError(`${name} ${n} is not a safe integer`);
}

/** The Avro binary encoding of `event` (see codec.ts for the schema). */
export function writeChangeEvent(event: ChangeEvent): Buffer {
  checkInt('sequence', event.sequence);
  checkLong('xid', event.xid);
  checkLong('relation oid', event.relation.oid);
  const out = output;
  out.pos = 0;
  out.string(event.tenant);
  out.string(event.schema);
  out.string(event.table);
  out.byte(OP_INDEX[event.op] * 2);
  out.bytes(relationBytes(event.relation));
  writeValues(out, event.before);
  writeValues(out, event.after);
  if (event.truncate === null) {
    out.byte(0);
  } else {
    out.byte(2);
    out.boolean(event.truncate.cascade);
    out.boolean(event.truncate.restartIdentity);
  }
  out.varint(event.xid);
  out.long(event.commitLsn);
  out.long(event.eventLsn);
  out.long(event.commitTimeUs);
  out.varint(event.sequence);
  out.nullableString(event.origin);
  if (event.claim === null) {
    out.byte(0);
  } else {
    checkLong('claim size', event.claim.size);
    out.byte(2);
    out.string(event.claim.key);
    out.string(event.claim.sha256);
    out.varint(event.claim.size);
  }
  return out.take();
}
