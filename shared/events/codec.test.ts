import avro from 'avsc';
import { describe, expect, it } from 'vitest';

import { lsnFromBigInt, parseLsn } from '../lsn.js';

import {
  type ChangeEvent,
  type ColumnValue,
  compareEventPosition,
  relationVersionOf,
} from './change-event.js';
import {
  changeEventType,
  decodeChangeEvent,
  encodeChangeEvent,
  EVENT_SCHEMA_FINGERPRINT,
  toAvroRecord,
} from './codec.js';

const columns = [
  { name: 'id', typeOid: 20, typeName: 'bigint', typeMod: -1, primaryKey: true },
  { name: 'tenant_id', typeOid: 25, typeName: 'text', typeMod: -1, primaryKey: false },
  { name: 'body', typeOid: 25, typeName: 'text', typeMod: -1, primaryKey: false },
  { name: 'note', typeOid: 25, typeName: 'text', typeMod: -1, primaryKey: false, missing: 'n/a' },
];

const update: ChangeEvent = {
  tenant: 'acme',
  schema: 'app',
  table: 'docs',
  op: 'update',
  relation: { oid: 16_400, version: relationVersionOf('app', 'docs', columns), columns },
  before: [
    { kind: 'text', text: '1' },
    { kind: 'text', text: 'acme' },
    { kind: 'text', text: 'x'.repeat(10) },
    { kind: 'null' },
  ],
  after: [
    { kind: 'text', text: '1' },
    { kind: 'text', text: 'acme' },
    { kind: 'unchanged-toast' },
    { kind: 'text', text: 'tab\there\nnew line \\ 🦆' },
  ],
  truncate: null,
  xid: 0xffff_fffe,
  commitLsn: parseLsn('16/B374D848'),
  eventLsn: parseLsn('16/B374D000'),
  commitTimeUs: 1_795_311_621_511_123n,
  sequence: 3,
  origin: 'backtrack-restore:42',
  claim: null,
};

describe('change event codec', () => {
  it('round-trips every value kind, unicode and control characters', () => {
    expect(decodeChangeEvent(encodeChangeEvent(update))).toEqual(update);
  });

  it('round-trips a truncate, a delete with absent values, and a claim check', () => {
    const truncate: ChangeEvent = {
      ...update,
      tenant: '_all',
      op: 'truncate',
      before: null,
      after: null,
      truncate: { cascade: true, restartIdentity: false },
      origin: null,
    };
    const deleted: ChangeEvent = {
      ...update,
      op: 'delete',
      after: null,
      before: [
        { kind: 'text', text: '1' },
        { kind: 'absent' },
        { kind: 'absent' },
        { kind: 'absent' },
      ],
    };
    const claimed: ChangeEvent = {
      ...update,
      before: null,
      after: null,
      claim: { key: 'claims/slot/0-16-1.avro', sha256: 'ab'.repeat(32), size: 20_000_000 },
    };
    for (const event of [truncate, deleted, claimed]) {
      expect(decodeChangeEvent(encodeChangeEvent(event))).toEqual(event);
    }
  });

  it('keeps 64-bit positions exact beyond 2^53', () => {
    const far: ChangeEvent = {
      ...update,
      commitLsn: lsnFromBigInt((1n << 62n) + 1n),
      eventLsn: lsnFromBigInt((1n << 62n) - 7n),
      commitTimeUs: (1n << 60n) + 3n,
    };
    const decoded = decodeChangeEvent(encodeChangeEvent(far));
    expect(decoded.commitLsn).toBe((1n << 62n) + 1n);
    expect(decoded.eventLsn).toBe((1n << 62n) - 7n);
    expect(decoded.commitTimeUs).toBe((1n << 60n) + 3n);
  });

  it('refuses bytes that are not an event', () => {
    expect(() => decodeChangeEvent(Buffer.from('definitely not avro'))).toThrow(
      /not a change event/,
    );
  });

  it('has a pinned fingerprint: a schema change must come with a new version, or be one older records still decode by', () => {
    // v1 gained the `SCHEMA` op, appended to the Op enum: an enum is written as its index,
    // so every record and segment written before still decodes (and resolves) unchanged.
    expect(EVENT_SCHEMA_FINGERPRINT).toMatchInlineSnapshot(
      `"75fd12ba2ff39f9f03afcdd9e8d43dfb3662065a3722ebf371db054986bde57e"`,
    );
    const before = 'ba921e296b5c166c22b20b76d2da45ed77c8973c2006c55a4526558621600694';
    const previous = avro.Type.forSchema(
      JSON.parse(
        JSON.stringify(changeEventType.schema()).replace(',"SCHEMA"]', ']'),
      ) as avro.Schema,
    );
    // The schema without that symbol is exactly the one pinned before it.
    expect(previous.fingerprint('sha256').toString('hex')).toBe(before);
  });
});

describe('the hand-written encoder', () => {
  /** What avsc writes for the same event: the reference the encoder must match byte for byte. */
  const avscBytes = (event: ChangeEvent): Buffer => changeEventType.toBuffer(toAvroRecord(event));

  /** A small deterministic generator, so a failure names a reproducible case. */
  function random(seed: number): () => number {
    let state = seed;
    return () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
  }

  it('writes exactly the bytes avsc writes, for edge cases and 2,000 generated events', () => {
    const pick = random(7);
    // Around the encoder's ASCII path (63 characters, a one-byte length) and its fallbacks.
    const texts = [
      '',
      'a',
      'tab\there',
      '🦆 ünïcödé',
      'z'.repeat(63),
      'w'.repeat(64),
      `${'v'.repeat(62)}é`,
      '\u007f\u0080',
      'x'.repeat(200),
      'y'.repeat(70_000),
    ];
    const value = (): ColumnValue => {
      const r = pick();
      if (r < 0.1) return { kind: 'null' };
      if (r < 0.15) return { kind: 'unchanged-toast' };
      if (r < 0.2) return { kind: 'absent' };
      return { kind: 'text', text: texts[Math.floor(pick() * (texts.length - 1))] ?? '' };
    };
    const longs = [0n, 1n, 63n, 64n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n];
    const events: ChangeEvent[] = [
      update,
      { ...update, before: null, after: [], origin: null },
      { ...update, relation: { ...update.relation, columns: [] }, before: [], after: null },
      { ...update, after: [{ kind: 'text', text: texts.at(-1) ?? '' }] },
      { ...update, commitTimeUs: -1_000_000n, sequence: 2 ** 31 - 1, xid: 2 ** 32 - 1 },
      {
        ...update,
        op: 'truncate',
        before: null,
        after: null,
        truncate: { cascade: false, restartIdentity: true },
      },
      { ...update, claim: { key: 'claims/k', sha256: 'cd'.repeat(32), size: 2 ** 40 } },
      ...longs.map((n) => ({
        ...update,
        commitLsn: lsnFromBigInt(n),
        eventLsn: lsnFromBigInt(n),
        commitTimeUs: -n - 1n,
      })),
    ];
    for (let i = 0; i < 2_000; i++) {
      const width = Math.floor(pick() * 6);
      events.push({
        ...update,
        tenant: texts[Math.floor(pick() * 5)] ?? '',
        op: (['insert', 'update', 'delete'] as const)[Math.floor(pick() * 3)] ?? 'insert',
        relation: { ...update.relation, oid: Math.floor(pick() * 2 ** 32) },
        before: pick() < 0.5 ? null : Array.from({ length: width }, value),
        after: pick() < 0.3 ? null : Array.from({ length: width }, value),
        xid: Math.floor(pick() * 2 ** 32),
        commitLsn: lsnFromBigInt(BigInt(Math.floor(pick() * 2 ** 52)) * 1_000n),
        sequence: Math.floor(pick() * 1_000_000),
        origin: pick() < 0.8 ? null : 'backtrack-restore:7',
      });
    }
    const written = events.map((event) => encodeChangeEvent(event));
    // Compared after all were written: no later event overwrites an earlier one's bytes.
    for (const [i, event] of events.entries()) {
      expect(written[i]?.equals(avscBytes(event)), `event ${i}`).toBe(true);
    }
  });

  it('refuses values the schema cannot hold rather than writing other bytes', () => {
    expect(() => encodeChangeEvent({ ...update, sequence: 2 ** 31 })).toThrow(/not an Avro int/);
    expect(() => encodeChangeEvent({ ...update, xid: 2 ** 60 })).toThrow(/not a safe integer/);
    expect(() => encodeChangeEvent({ ...update, commitLsn: lsnFromBigInt(2n ** 63n) })).toThrow(
      /not an Avro long/,
    );
  });
});

describe('relation versions', () => {
  it('change when a column is added, dropped or retyped, and only then', () => {
    const base = relationVersionOf('app', 'docs', columns);
    expect(relationVersionOf('app', 'docs', [...columns])).toBe(base);
    expect(relationVersionOf('app', 'docs', columns.slice(0, 3))).not.toBe(base);
    expect(
      relationVersionOf('app', 'docs', [
        ...columns,
        { name: 'extra', typeOid: 23, typeName: 'integer', typeMod: -1, primaryKey: false },
      ]),
    ).not.toBe(base);
    expect(
      relationVersionOf(
        'app',
        'docs',
        columns.map((c) => (c.name === 'note' ? { ...c, typeOid: 1043, typeMod: 14 } : c)),
      ),
    ).not.toBe(base);
  });
});

describe('event positions', () => {
  it('order by commit LSN, then sequence', () => {
    const at = (lsn: string, sequence: number) => ({ commitLsn: parseLsn(lsn), sequence });
    const sorted = [at('1/0', 0), at('0/FFFFFFFF', 9), at('0/FFFFFFFF', 2)].sort(
      compareEventPosition,
    );
    expect(sorted).toEqual([at('0/FFFFFFFF', 2), at('0/FFFFFFFF', 9), at('1/0', 0)]);
  });
});
