import { describe, expect, it } from 'vitest';

import { parseLsn } from '../lsn.js';

import { decodePgoutput, type TupleValue } from './pgoutput.js';

/** An unchanged TOAST value in a tuple being encoded. */
const TOAST = Symbol('unchanged-toast');

/** Builds protocol bytes the way the server writes them (big-endian, NUL-terminated). */
class Encoder {
  private readonly parts: Buffer[] = [];

  byte(value: number | string): this {
    this.parts.push(Buffer.from([typeof value === 'string' ? value.charCodeAt(0) : value]));
    return this;
  }

  i16(value: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(value);
    this.parts.push(b);
    return this;
  }

  i32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    this.parts.push(b);
    return this;
  }

  u32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value);
    this.parts.push(b);
    return this;
  }

  u64(value: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(value);
    this.parts.push(b);
    return this;
  }

  i64(value: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(value);
    this.parts.push(b);
    return this;
  }

  cstring(text: string): this {
    this.parts.push(Buffer.from(text, 'utf8'), Buffer.from([0]));
    return this;
  }

  tuple(values: readonly (string | null | typeof TOAST)[]): this {
    this.i16(values.length);
    for (const value of values) {
      if (value === null) this.byte('n');
      else if (value === TOAST) this.byte('u');
      else {
        const bytes = Buffer.from(value, 'utf8');
        this.byte('t').i32(bytes.length);
        this.parts.push(bytes);
      }
    }
    return this;
  }

  raw(bytes: Buffer): this {
    this.parts.push(bytes);
    return this;
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const text = (t: string): TupleValue => ({ kind: 'text', text: t });
/** 2026-11-20T10:15:00.123456Z in µs since 2000-01-01. */
const PG_TIME = 848_484_900_123_456n;
const UNIX_TIME = PG_TIME + 946_684_800_000_000n;

describe('decodePgoutput', () => {
  it('decodes Begin with the commit LSN, time and xid', () => {
    const msg = decodePgoutput(
      new Encoder().byte('B').u64(0x16b3748n).i64(PG_TIME).u32(0xfffffff0).build(),
    );
    expect(msg).toEqual({
      tag: 'begin',
      finalLsn: parseLsn('0/16B3748'),
      commitTimeUs: UNIX_TIME,
      xid: 0xfffffff0,
    });
    expect(new Date(Number(UNIX_TIME / 1000n)).toISOString()).toBe('2026-11-20T10:15:00.123Z');
  });

  it('decodes Commit with both the commit LSN and the end LSN', () => {
    const msg = decodePgoutput(
      new Encoder().byte('C').byte(0).u64(0x100n).u64(0x1_0000_0028n).i64(PG_TIME).build(),
    );
    expect(msg).toEqual({
      tag: 'commit',
      flags: 0,
      commitLsn: parseLsn('0/100'),
      endLsn: parseLsn('1/28'),
      commitTimeUs: UNIX_TIME,
    });
  });

  it('decodes Relation columns with key flags, type OIDs and modifiers', () => {
    const msg = decodePgoutput(
      new Encoder()
        .byte('R')
        .u32(16385)
        .cstring('app')
        .cstring('orders')
        .byte('f')
        .i16(3)
        .byte(1)
        .cstring('id')
        .u32(20)
        .i32(-1)
        .byte(0)
        .cstring('tenant_id')
        .u32(25)
        .i32(-1)
        .byte(0)
        .cstring('amount')
        .u32(1700)
        .i32(2621464)
        .build(),
    );
    expect(msg).toEqual({
      tag: 'relation',
      relationOid: 16385,
      schema: 'app',
      name: 'orders',
      replicaIdentity: 'full',
      columns: [
        { isKey: true, name: 'id', typeOid: 20, typeMod: -1 },
        { isKey: false, name: 'tenant_id', typeOid: 25, typeMod: -1 },
        { isKey: false, name: 'amount', typeOid: 1700, typeMod: 2621464 },
      ],
    });
  });

  it('keeps text values byte-exact, including tabs, newlines, backslashes and unicode', () => {
    const tricky = 'a\tb\nc\\d "é" 🦆 \u0001';
    const msg = decodePgoutput(
      new Encoder().byte('I').u32(7).byte('N').tuple(['1', tricky, null]).build(),
    );
    expect(msg).toEqual({
      tag: 'insert',
      relationOid: 7,
      newTuple: [text('1'), text(tricky), { kind: 'null' }],
    });
  });

  it.each([
    ['no old image', new Encoder().byte('U').u32(7).byte('N').tuple(['1', TOAST]), null, null],
    [
      'the old key',
      new Encoder().byte('U').u32(7).byte('K').tuple(['0', null]).byte('N').tuple(['1', TOAST]),
      'key',
      [text('0'), { kind: 'null' }],
    ],
    [
      'the whole old row',
      new Encoder().byte('U').u32(7).byte('O').tuple(['1', 'big']).byte('N').tuple(['1', TOAST]),
      'old',
      [text('1'), text('big')],
    ],
  ])('decodes Update with %s and marks unchanged TOAST explicitly', (_, enc, kind, old) => {
    expect(decodePgoutput(enc.build())).toEqual({
      tag: 'update',
      relationOid: 7,
      oldKind: kind,
      oldTuple: old,
      newTuple: [text('1'), { kind: 'unchanged-toast' }],
    });
  });

  it.each([
    ['K', 'key'],
    ['O', 'old'],
  ])('decodes Delete with an %s image', (marker, kind) => {
    expect(
      decodePgoutput(new Encoder().byte('D').u32(9).byte(marker).tuple(['5']).build()),
    ).toEqual({ tag: 'delete', relationOid: 9, oldKind: kind, oldTuple: [text('5')] });
  });

  it('decodes Truncate of several relations with its flags', () => {
    expect(decodePgoutput(new Encoder().byte('T').u32(2).byte(3).u32(10).u32(11).build())).toEqual({
      tag: 'truncate',
      relationOids: [10, 11],
      cascade: true,
      restartIdentity: true,
    });
  });

  it('decodes Origin, Type and Message', () => {
    expect(decodePgoutput(new Encoder().byte('O').u64(0x50n).cstring('restore').build())).toEqual({
      tag: 'origin',
      originLsn: parseLsn('0/50'),
      name: 'restore',
    });
    expect(
      decodePgoutput(new Encoder().byte('Y').u32(16400).cstring('app').cstring('mood').build()),
    ).toEqual({ tag: 'type', typeOid: 16400, schema: 'app', name: 'mood' });
    const content = Buffer.from([0, 1, 2, 255]);
    expect(
      decodePgoutput(
        new Encoder().byte('M').byte(1).u64(0x60n).cstring('backtrack').u32(4).raw(content).build(),
      ),
    ).toEqual({
      tag: 'message',
      transactional: true,
      lsn: parseLsn('0/60'),
      prefix: 'backtrack',
      content,
    });
  });

  it.each([
    ['an unknown message type', new Encoder().byte('Z').build(), /unknown pgoutput message type/],
    ['a truncated message', new Encoder().byte('B').u64(1n).build(), /ends early/],
    ['trailing bytes', new Encoder().byte('O').u64(1n).cstring('x').byte(0).build(), /unread/],
    [
      'a binary value',
      new Encoder().byte('I').u32(1).byte('N').i16(1).byte('b').i32(0).build(),
      /binary column value/,
    ],
    [
      'an unknown value kind',
      new Encoder().byte('I').u32(1).byte('N').i16(1).byte('x').build(),
      /kind/,
    ],
    [
      'a bad insert marker',
      new Encoder().byte('I').u32(1).byte('K').tuple([]).build(),
      /expected N/,
    ],
    [
      'an unterminated string',
      new Encoder().byte('O').u64(1n).raw(Buffer.from('ab')).build(),
      /NUL/,
    ],
  ])('refuses %s', (_, payload, message) => {
    expect(() => decodePgoutput(payload)).toThrow(message);
  });
});
