/**
 * Decoder of pgoutput protocol version 1 messages (the payload of XLogData), from raw
 * bytes to a discriminated union. Values stay in the Postgres text representation the
 * server sent; NULL and "unchanged TOAST" are explicit kinds, never magic strings.
 *
 * Format: https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
 */
import { BacktrackError } from '../errors.js';
import { type Lsn, lsnFromBigInt } from '../lsn.js';

/** Microseconds between the Unix epoch and the Postgres epoch (2000-01-01 UTC). */
const POSTGRES_EPOCH_OFFSET_US = 946_684_800_000_000n;

/** One column value of a tuple as sent by the server. */
export type TupleValue =
  | { readonly kind: 'null' }
  | { readonly kind: 'unchanged-toast' }
  | { readonly kind: 'text'; readonly text: string };

/** A row image: one value per column of the relation, in attribute order. */
export type Tuple = readonly TupleValue[];

/** A column as described by a Relation message. */
export interface RelationColumn {
  /** Part of the replica identity (the key) when true. */
  readonly isKey: boolean;
  readonly name: string;
  readonly typeOid: number;
  readonly typeMod: number;
}

/** Replica identity setting of a relation (`pg_class.relreplident`). */
export type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

/** Every pgoutput message of protocol version 1. */
export type PgoutputMessage =
  | {
      readonly tag: 'begin';
      /** LSN of the commit record of this transaction. */
      readonly finalLsn: Lsn;
      /** Commit time, microseconds since the Unix epoch. */
      readonly commitTimeUs: bigint;
      /** 32-bit transaction id. */
      readonly xid: number;
    }
  | {
      readonly tag: 'commit';
      readonly flags: number;
      /** LSN of the commit record. */
      readonly commitLsn: Lsn;
      /** End of the commit record: the position to confirm once the transaction is durable. */
      readonly endLsn: Lsn;
      readonly commitTimeUs: bigint;
    }
  | { readonly tag: 'origin'; readonly originLsn: Lsn; readonly name: string }
  | {
      readonly tag: 'relation';
      readonly relationOid: number;
      readonly schema: string;
      readonly name: string;
      readonly replicaIdentity: ReplicaIdentity;
      readonly columns: readonly RelationColumn[];
    }
  | {
      readonly tag: 'type';
      readonly typeOid: number;
      readonly schema: string;
      readonly name: string;
    }
  | { readonly tag: 'insert'; readonly relationOid: number; readonly newTuple: Tuple }
  | {
      readonly tag: 'update';
      readonly relationOid: number;
      /** 'key': only key columns of the old row; 'old': the whole old row; null: none sent. */
      readonly oldKind: 'key' | 'old' | null;
      readonly oldTuple: Tuple | null;
      readonly newTuple: Tuple;
    }
  | {
      readonly tag: 'delete';
      readonly relationOid: number;
      readonly oldKind: 'key' | 'old';
      readonly oldTuple: Tuple;
    }
  | {
      readonly tag: 'truncate';
      readonly relationOids: readonly number[];
      readonly cascade: boolean;
      readonly restartIdentity: boolean;
    }
  | {
      readonly tag: 'message';
      readonly transactional: boolean;
      readonly lsn: Lsn;
      readonly prefix: string;
      readonly content: Buffer;
    };

/** The tags of {@link PgoutputMessage}. */
export type PgoutputTag = PgoutputMessage['tag'];

const NULL = Object.freeze({ kind: 'null' as const });
const UNCHANGED = Object.freeze({ kind: 'unchanged-toast' as const });

class Reader {
  private offset = 0;

  constructor(private readonly buffer: Buffer) {}

  private need(n: number): void {
    if (this.offset + n > this.buffer.length) {
      throw new BacktrackError(
        'PROTOCOL_VIOLATION',
        `pgoutput message ends early: needed ${n} bytes at offset ${this.offset} of ${this.buffer.length}`,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buffer.readUInt8(this.offset++);
  }

  i16(): number {
    this.need(2);
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  i32(): number {
    this.need(4);
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  u32(): number {
    this.need(4);
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  u64(): bigint {
    this.need(8);
    const value = this.buffer.readBigUInt64BE(this.offset);
    this.offset += 8;
    return value;
  }

  i64(): bigint {
    this.need(8);
    const value = this.buffer.readBigInt64BE(this.offset);
    this.offset += 8;
    return value;
  }

  lsn(): Lsn {
    return lsnFromBigInt(this.u64());
  }

  /** A timestamp (µs since 2000-01-01) as µs since the Unix epoch. */
  timestampUs(): bigint {
    return this.i64() + POSTGRES_EPOCH_OFFSET_US;
  }

  cstring(): string {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) {
      throw new BacktrackError('PROTOCOL_VIOLATION', 'pgoutput string is not NUL-terminated');
    }
    const text = this.buffer.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return text;
  }

  bytes(n: number): Buffer {
    this.need(n);
    // A copy: the connection may reuse the buffer it read the message into.
    const copy = Buffer.from(this.buffer.subarray(this.offset, this.offset + n));
    this.offset += n;
    return copy;
  }

  text(n: number): string {
    this.need(n);
    const text = this.buffer.toString('utf8', this.offset, this.offset + n);
    this.offset += n;
    return text;
  }

  done(): void {
    if (this.offset !== this.buffer.length) {
      throw new BacktrackError(
        'PROTOCOL_VIOLATION',
        `pgoutput message has ${this.buffer.length - this.offset} unread bytes`,
      );
    }
  }
}

function readTuple(reader: Reader): Tuple {
  const count = reader.i16();
  const values: TupleValue[] = new Array<TupleValue>(count);
  for (let i = 0; i < count; i++) {
    const kind = reader.u8();
    switch (kind) {
      case 0x6e: // 'n'
        values[i] = NULL;
        break;
      case 0x75: // 'u'
        values[i] = UNCHANGED;
        break;
      case 0x74: // 't'
        values[i] = { kind: 'text', text: reader.text(reader.i32()) };
        break;
      case 0x62: // 'b': only with the binary option, which Backtrack never requests
        throw new BacktrackError(
          'PROTOCOL_VIOLATION',
          'pgoutput sent a binary column value; Backtrack streams the text representation only',
        );
      default:
        throw new BacktrackError(
          'PROTOCOL_VIOLATION',
          `unknown pgoutput tuple value kind 0x${kind.toString(16)}`,
        );
    }
  }
  return values;
}

function readReplicaIdentity(code: number): ReplicaIdentity {
  switch (code) {
    case 0x64:
      return 'default';
    case 0x6e:
      return 'nothing';
    case 0x66:
      return 'full';
    case 0x69:
      return 'index';
    default:
      throw new BacktrackError(
        'PROTOCOL_VIOLATION',
        `unknown replica identity ${String.fromCharCode(code)}`,
      );
  }
}

function decodeBody(reader: Reader, tag: number): PgoutputMessage {
  switch (tag) {
    case 0x42: // 'B'
      return {
        tag: 'begin',
        finalLsn: reader.lsn(),
        commitTimeUs: reader.timestampUs(),
        xid: reader.u32(),
      };
    case 0x43: // 'C'
      return {
        tag: 'commit',
        flags: reader.u8(),
        commitLsn: reader.lsn(),
        endLsn: reader.lsn(),
        commitTimeUs: reader.timestampUs(),
      };
    case 0x4f: // 'O'
      return { tag: 'origin', originLsn: reader.lsn(), name: reader.cstring() };
    case 0x52: {
      // 'R'
      const relationOid = reader.u32();
      const schema = reader.cstring();
      const name = reader.cstring();
      const replicaIdentity = readReplicaIdentity(reader.u8());
      const count = reader.i16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        const flags = reader.u8();
        columns.push({
          isKey: (flags & 1) === 1,
          name: reader.cstring(),
          typeOid: reader.u32(),
          typeMod: reader.i32(),
        });
      }
      return { tag: 'relation', relationOid, schema, name, replicaIdentity, columns };
    }
    case 0x59: // 'Y'
      return {
        tag: 'type',
        typeOid: reader.u32(),
        schema: reader.cstring(),
        name: reader.cstring(),
      };
    case 0x49: {
      // 'I'
      const relationOid = reader.u32();
      expectByte(reader.u8(), 0x4e, 'insert');
      return { tag: 'insert', relationOid, newTuple: readTuple(reader) };
    }
    case 0x55: {
      // 'U'
      const relationOid = reader.u32();
      let marker = reader.u8();
      let oldKind: 'key' | 'old' | null = null;
      let oldTuple: Tuple | null = null;
      if (marker === 0x4b || marker === 0x4f) {
        oldKind = marker === 0x4b ? 'key' : 'old';
        oldTuple = readTuple(reader);
        marker = reader.u8();
      }
      expectByte(marker, 0x4e, 'update');
      return { tag: 'update', relationOid, oldKind, oldTuple, newTuple: readTuple(reader) };
    }
    case 0x44: {
      // 'D'
      const relationOid = reader.u32();
      const marker = reader.u8();
      if (marker !== 0x4b && marker !== 0x4f) expectByte(marker, 0x4f, 'delete');
      return {
        tag: 'delete',
        relationOid,
        oldKind: marker === 0x4b ? 'key' : 'old',
        oldTuple: readTuple(reader),
      };
    }
    case 0x54: {
      // 'T'
      const count = reader.u32();
      const flags = reader.u8();
      const relationOids: number[] = [];
      for (let i = 0; i < count; i++) relationOids.push(reader.u32());
      return {
        tag: 'truncate',
        relationOids,
        cascade: (flags & 1) === 1,
        restartIdentity: (flags & 2) === 2,
      };
    }
    case 0x4d: {
      // 'M'
      const flags = reader.u8();
      const lsn = reader.lsn();
      const prefix = reader.cstring();
      const content = reader.bytes(reader.u32());
      return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content };
    }
    default:
      throw new BacktrackError(
        'PROTOCOL_VIOLATION',
        `unknown pgoutput message type ${JSON.stringify(String.fromCharCode(tag))}; Backtrack speaks protocol version 1`,
      );
  }
}

function expectByte(actual: number, expected: number, what: string): void {
  if (actual !== expected) {
    throw new BacktrackError(
      'PROTOCOL_VIOLATION',
      `pgoutput ${what}: expected ${String.fromCharCode(expected)}, got 0x${actual.toString(16)}`,
    );
  }
}

/** Decodes one pgoutput message; throws PROTOCOL_VIOLATION on malformed input. */
export function decodePgoutput(payload: Buffer): PgoutputMessage {
  const reader = new Reader(payload);
  const message = decodeBody(reader, reader.u8());
  reader.done();
  return message;
}
