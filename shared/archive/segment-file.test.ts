import { randomBytes } from 'node:crypto';

import avro from 'avsc';
import { describe, expect, it } from 'vitest';

import { isBacktrackError } from '../errors.js';
import {
  type ChangeEvent,
  decodeChangeEvent,
  encodeChangeEvent,
  relationVersionOf,
  toAvroRecord,
} from '../events/index.js';
import { parseLsn } from '../lsn.js';

import { isEncrypted, type Keyring, type MasterKey } from './encryption.js';
import {
  decodeSegment,
  encodeSegment,
  type SegmentRecord,
  segmentRecordType,
} from './segment-file.js';

const columns = [
  { name: 'id', typeOid: 20, typeName: 'bigint', typeMod: -1, primaryKey: true, missing: null },
  {
    name: 'tenant_id',
    typeOid: 25,
    typeName: 'text',
    typeMod: -1,
    primaryKey: false,
    missing: null,
  },
  { name: 'body', typeOid: 25, typeName: 'text', typeMod: -1, primaryKey: false, missing: null },
];

function event(i: number, tenant = 'acme'): ChangeEvent {
  return {
    tenant,
    schema: 'app',
    table: 'docs',
    op: i % 3 === 0 ? 'insert' : 'update',
    relation: { oid: 16_400, version: relationVersionOf('app', 'docs', columns), columns },
    before: null,
    after: [
      { kind: 'text', text: String(i) },
      { kind: 'text', text: tenant },
      { kind: 'text', text: `body ${i} ${'x'.repeat(i % 50)}` },
    ],
    truncate: null,
    xid: 1000 + i,
    commitLsn: parseLsn(`1/${(0x1000 + i * 64).toString(16)}`),
    eventLsn: parseLsn(`1/${(0x1000 + i * 64 - 8).toString(16)}`),
    commitTimeUs: 1_795_311_621_000_000n + BigInt(i) * 1000n,
    sequence: 0,
    origin: null,
    claim: null,
  };
}

// Through the event codec once, so the expectation has exactly the fields the codec keeps.
const records: SegmentRecord[] = Array.from({ length: 500 }, (_, i) => ({
  offset: 100n + BigInt(i) * 3n,
  event: decodeChangeEvent(encodeChangeEvent(event(i))),
}));
const input = {
  tenant: 'acme',
  topic: 'bt.txlog',
  partition: 2,
  rangeFrom: 90n,
  rangeTo: 1_700n,
  records,
};
const KEY: MasterKey = { id: 'k1', key: randomBytes(32) };
const withKey: Keyring = { current: KEY, find: (id) => (id === 'k1' ? KEY : undefined) };
const noKey: Keyring = { current: undefined, find: () => undefined };

async function errorOf(run: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await run();
  } catch (e) {
    return { code: isBacktrackError(e) ? e.code : 'other', message: (e as Error).message };
  }
  throw new Error('expected a failure');
}

describe('segment files', () => {
  it('round-trip every event with its offset, and describe themselves', async () => {
    const encoded = await encodeSegment(input);
    expect(encoded.bytes.subarray(0, 4).toString('latin1')).toBe('Obj\x01');
    const decoded = await decodeSegment(encoded.bytes, noKey, 'seg');
    expect(decoded.records).toEqual(records);
    expect(decoded.metadata).toEqual(encoded.metadata);
    expect(decoded.metadata).toMatchObject({
      tenant: 'acme',
      partition: 2,
      rangeFrom: 90n,
      rangeTo: 1_700n,
      firstOffset: 100n,
      lastOffset: 100n + 499n * 3n,
      eventCount: 500,
      minCommitTimeUs: 1_795_311_621_000_000n,
      maxCommitTimeUs: 1_795_311_621_499_000n,
    });
  });

  it('are standard Avro container files with the deflate codec', async () => {
    const encoded = await encodeSegment(input);
    const decoder = new avro.streams.BlockDecoder();
    const codecs: string[] = [];
    decoder.on('metadata', (_type: unknown, codec: string) => codecs.push(codec));
    decoder.end(encoded.bytes);
    let count = 0;
    for await (const _record of decoder) count += 1;
    expect(codecs).toEqual(['deflate']);
    expect(count).toBe(500);
  });

  it('are deterministic when not encrypted, and compress', async () => {
    const a = await encodeSegment(input);
    const b = await encodeSegment(input);
    expect(a.bytes.equals(b.bytes)).toBe(true);
    const raw = records.reduce(
      (n, r) =>
        n +
        JSON.stringify(r.event, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
          .length,
      0,
    );
    expect(a.bytes.length).toBeLessThan(raw / 5);
  });

  it('encrypt as a whole and read back only with the key', async () => {
    const encoded = await encodeSegment(input, { encryptWith: KEY });
    expect(isEncrypted(encoded.bytes)).toBe(true);
    expect(encoded.keyId).toBe('k1');
    expect((await decodeSegment(encoded.bytes, withKey, 'seg')).records).toEqual(records);
    expect(await errorOf(() => decodeSegment(encoded.bytes, noKey, 'seg'))).toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
  });

  it('report damage they notice as INTEGRITY_FAILED (the catalog checksum catches the rest)', async () => {
    const encoded = await encodeSegment(input);
    const step = Math.floor(encoded.bytes.length / 60);
    let noticed = 0;
    let flips = 0;
    for (let at = 2; at < encoded.bytes.length; at += step) {
      flips += 1;
      const flipped = Buffer.from(encoded.bytes);
      flipped[at] = (flipped[at] ?? 0) ^ 0x5a;
      const decoded = await decodeSegment(flipped, noKey, 'seg').catch((e: unknown) => e);
      if (decoded instanceof Error) {
        noticed += 1;
        expect(isBacktrackError(decoded, 'INTEGRITY_FAILED'), `${at}: ${decoded.message}`).toBe(
          true,
        );
      }
    }
    // Raw deflate has no checksum of its own, and a schema's doc text can change unseen:
    // most damage is still caught here; all of it by the SHA-256 that verify checks.
    expect(noticed / flips).toBeGreaterThan(0.8);
  });

  it('refuse an empty segment and offsets outside the range', async () => {
    await expect(encodeSegment({ ...input, records: [] })).rejects.toThrow(/no events/);
    await expect(encodeSegment({ ...input, rangeTo: 200n })).rejects.toThrow(/outside/);
  });

  it('read segments written with another version of the event schema (Avro resolution)', async () => {
    const current = await encodeSegment(input);
    let meta: Record<string, Buffer> = {};
    const probe = new avro.streams.BlockDecoder();
    probe.on('metadata', (_t: unknown, _c: string, header: { meta: Record<string, Buffer> }) => {
      meta = header.meta;
    });
    probe.end(current.bytes);
    for await (const _record of probe) {
      // read through for the header
    }
    // An older writer: the event record without `origin` (a field with a default).
    const schema = JSON.parse(JSON.stringify(segmentRecordType.schema())) as {
      fields: { name: string; type: { fields: { name: string }[] } }[];
    };
    const eventField = schema.fields.find((f) => f.name === 'event');
    if (!eventField) throw new Error('no event field');
    eventField.type.fields = eventField.type.fields.filter((f) => f.name !== 'origin');
    const long = avro.types.LongType.__with({
      fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
      toBuffer: (n: bigint) => {
        const buf = Buffer.alloc(8);
        buf.writeBigInt64LE(n);
        return buf;
      },
      fromJSON: (json: unknown) => BigInt(json as string),
      toJSON: (n: bigint) => n.toString(),
      isValid: (n: unknown) => typeof n === 'bigint',
      compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
    });
    const older = avro.Type.forSchema(schema as unknown as avro.Schema, { registry: { long } });
    const userMeta = Object.fromEntries(
      Object.entries(meta).filter(([k]) => !k.startsWith('avro.')),
    );
    const encoder = new avro.streams.BlockEncoder(older, {
      codec: 'deflate',
      metadata: { ...userMeta, 'backtrack.event-schema': Buffer.from('0'.repeat(64)) },
    } as object);
    const parts: Buffer[] = [];
    const done = (async () => {
      for await (const chunk of encoder) parts.push(chunk as Buffer);
    })();
    for (const r of records) encoder.write({ offset: r.offset, event: toAvroRecord(r.event) });
    encoder.end();
    await done;
    const decoded = await decodeSegment(Buffer.concat(parts), noKey, 'old');
    expect(decoded.records).toEqual(records);
  });

  it('reject bytes that are not a segment', async () => {
    expect(await errorOf(() => decodeSegment(Buffer.from('hello'), noKey, 'x'))).toMatchObject({
      code: 'INTEGRITY_FAILED',
      message: expect.stringMatching(/segment x is not valid/) as unknown,
    });
  });
});
