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
  schema: 4,
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
/** Events are written one after the other into a slab of this size, and handed out as views. */
const SLAB_BYTES = 256 * 1024;
/** Strings up to this length are tried as ASCII in JavaScript (their length is one varint byte). */
const ASCII_PROBE_CHARS = 63;

/**
 * Where the encoder writes: a slab that events fill one after the other, each handed out as
 * a view of its own bytes (no copy, no allocation per event). A full slab is left to the
 * views that hold it and a fresh one begins, so a record's bytes never change once taken.
 */
class Output {
  buf = Buffer.allocUnsafe(SLAB_BYTES);
  /** Where the event being written begins. */
  start = 0;
  pos = 0;

  /** Begins an event, on a fresh slab when what is left of this one is small. */
  begin(): void {
    if (this.buf.length - this.pos < 4096 || this.buf.length > SLAB_BYTES * 4) {
      this.buf = Buffer.allocUnsafe(SLAB_BYTES);
      this.pos = 0;
    }
    this.start = this.pos;
  }

  reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    // The event in progress moves to a slab with room for it; the bytes taken before stay.
    const written = this.pos - this.start;
    const grown = Buffer.allocUnsafe(Math.max(SLAB_BYTES, (written + bytes) * 2));
    this.buf.copy(grown, 0, this.start, this.pos);
    this.buf = grown;
    this.start = 0;
    this.pos = written;
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
    if (z < 0x80) {
      buf[pos] = z;
      this.pos = pos + 1;
      return;
    }
    // Below 2^31, integer shifts; beyond, the same arithmetic on doubles (exact below 2^53).
    while (z >= 0x80 && z < 0x8000_0000) {
      buf[pos++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    }
    while (z >= 0x80) {
      buf[pos++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    buf[pos++] = z;
    this.pos = pos;
  }

  /** An Avro long from a bigint: the number path below 2^53, bit by bit beyond. */
  long(n: bigint): void {
    // Exact: a bigint beyond ±(2^53 − 1) converts to a number that is not a safe integer.
    const asNumber = Number(n);
    if (Number.isSafeInteger(asNumber)) {
      this.varint(asNumber);
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
    const length = s.length;
    if (length <= ASCII_PROBE_CHARS) {
      // Short ASCII strings dominate (tenants, names, most values): written here, without a
      // call into the UTF-8 encoder; the first other character falls back to it.
      this.reserve(length + 1);
      const buf = this.buf;
      const at = this.pos;
      let i = 0;
      for (; i < length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + 1 + i] = c;
      }
      if (i === length) {
        buf[at] = length * 2; // the varint of a length below 64 is one byte
        this.pos = at + 1 + length;
        return;
      }
    }
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

  /** The event's bytes: a view of the slab, which nothing writes to again. */
  take(): Buffer {
    const out = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
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
    scratch.begin();
    writeRelation(scratch, relation);
    bytes = Buffer.from(scratch.take());
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
  out.begin();
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
