import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { BacktrackError, isBacktrackError } from '../errors.js';
import {
  type ChangeEvent,
  decodeChangeEvent,
  encodeChangeEvent,
  relationVersionOf,
} from '../events/index.js';
import { parseLsn } from '../lsn.js';
import type { ObjectStore, PutOptions, UploadResult } from '../s3/index.js';

import { sha256Hex } from './checksum.js';
import { claimCheckKey, readClaimCheck, writeClaimCheck } from './claim-check.js';
import { isEncrypted, type Keyring, keyringFrom, type MasterKey } from './encryption.js';

/**
 * Object storage in memory, just the two calls claim checks make. No unit test of
 * shared/archive had a store double (they test bytes); the module's store side needs one.
 */
class MemoryStore implements Pick<ObjectStore, 'put' | 'get'> {
  readonly objects = new Map<string, { body: Buffer; options: PutOptions | undefined }>();

  put(key: string, body: Uint8Array, options?: PutOptions): Promise<UploadResult> {
    const copy = Buffer.from(body);
    this.objects.set(key, { body: copy, options });
    return Promise.resolve({ key, size: copy.length, sha256: sha256Hex(copy), parts: 1 });
  }

  get(key: string): Promise<Buffer> {
    const found = this.objects.get(key);
    if (!found) return Promise.reject(new BacktrackError('STORAGE_NOT_FOUND', `no ${key}`));
    return Promise.resolve(Buffer.from(found.body));
  }

  /** The stored bytes of `key` (the test fails when there are none). */
  bytes(key: string): Buffer {
    const found = this.objects.get(key);
    if (!found) throw new Error(`nothing stored at ${key}`);
    return found.body;
  }
}

const columns = [
  { name: 'id', typeOid: 20, typeName: 'bigint', typeMod: -1, primaryKey: true, missing: null },
  { name: 'body', typeOid: 25, typeName: 'text', typeMod: -1, primaryKey: false, missing: null },
];

/** Several 64 KiB encryption chunks of row data that is easy to look for. */
const SECRET = 'SECRET-ROW-IMAGE-'.repeat(12_000);

function event(sequence: number, body = SECRET): ChangeEvent {
  const full: ChangeEvent = {
    tenant: 'acme',
    schema: 'app',
    table: 'blobs',
    op: 'update',
    relation: { oid: 16_400, version: relationVersionOf('app', 'blobs', columns), columns },
    before: [{ kind: 'text', text: '1' }, { kind: 'unchanged-toast' }],
    after: [
      { kind: 'text', text: '1' },
      { kind: 'text', text: body },
    ],
    truncate: null,
    xid: 1234,
    commitLsn: parseLsn('1/1040'),
    eventLsn: parseLsn('1/1000'),
    commitTimeUs: 1_795_311_621_000_000n,
    sequence,
    origin: null,
    claim: null,
  };
  // Through the codec once, so expectations hold exactly the fields the codec keeps.
  return decodeChangeEvent(encodeChangeEvent(full));
}

const KEY: MasterKey = { id: 'k1', key: randomBytes(32) };
const withKey: Keyring = keyringFrom({ keyId: KEY.id, masterKey: KEY.key });
const noKey: Keyring = keyringFrom(undefined);

async function failureOf(run: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await run();
  } catch (e) {
    return { code: isBacktrackError(e) ? e.code : 'other', message: (e as Error).message };
  }
  return { code: 'none', message: '' };
}

async function written(
  encryptWith: MasterKey | undefined,
  original = event(3),
): Promise<{ store: MemoryStore; reference: ChangeEvent; key: string }> {
  const store = new MemoryStore();
  const reference = await writeClaimCheck(
    { store, encryptWith },
    'slot_a',
    original,
    encodeChangeEvent(original),
  );
  return { store, reference, key: reference.claim?.key ?? '' };
}

describe('claim-check keys', () => {
  it.each([
    ['slot_a', '1/1040', 3, 'claims/slot_a/0000000100001040-3.avro'],
    ['backtrack_main', '0/0', 0, 'claims/backtrack_main/0000000000000000-0.avro'],
    ['s', 'FFFFFFFF/FFFFFFFF', 12, 'claims/s/ffffffffffffffff-12.avro'],
  ])('slot %s at %s #%i is %s', (slot, lsn, sequence, key) => {
    expect(claimCheckKey(slot, parseLsn(lsn), sequence)).toBe(key);
  });

  it.each([
    ['', 0],
    ['a/b', 0],
    ['slot', -1],
    ['slot', 1.5],
  ])('refuses slot "%s" with sequence %d', (slot, sequence) => {
    expect(() => claimCheckKey(slot, parseLsn('0/1'), sequence)).toThrow(BacktrackError);
  });
});

describe('claim checks', () => {
  it('round-trip without a key: a plain Avro object, and a reference without row images', async () => {
    const original = event(3);
    const { store, reference, key } = await written(undefined, original);
    expect(key).toBe('claims/slot_a/0000000100001040-3.avro');
    expect({ ...reference, claim: null }).toEqual({ ...original, before: null, after: null });
    const stored = store.bytes(key);
    expect(reference.claim).toEqual({ key, sha256: sha256Hex(stored), size: stored.length });
    expect(isEncrypted(stored)).toBe(false);
    expect(decodeChangeEvent(stored)).toEqual(original);
    expect(store.objects.get(key)?.options).toEqual({
      contentType: 'application/avro',
      metadata: { 'backtrack-tenant': 'acme', 'backtrack-key-id': '' },
    });
    expect(await readClaimCheck(store, reference, noKey)).toEqual(original);
  });

  it('round-trip with a key: the stored bytes are encrypted and hold no row data in clear', async () => {
    const original = event(3);
    const { store, reference, key } = await written(KEY, original);
    const stored = store.bytes(key);
    expect(stored.subarray(0, 8).toString('latin1')).toBe('BTCRYPT1');
    expect(stored.includes(Buffer.from('SECRET-ROW-IMAGE'))).toBe(false);
    expect(stored.includes(encodeChangeEvent(original).subarray(0, 64))).toBe(false);
    // The reference checks the stored (encrypted) bytes, before anything is decrypted.
    expect(reference.claim).toEqual({ key, sha256: sha256Hex(stored), size: stored.length });
    expect(store.objects.get(key)?.options).toEqual({
      contentType: 'application/octet-stream',
      metadata: { 'backtrack-tenant': 'acme', 'backtrack-key-id': 'k1' },
    });
    expect(await readClaimCheck(store, reference, withKey)).toEqual(original);
  });

  it('refuses an encrypted one without its key, naming the key and what to set', async () => {
    const { store, reference, key } = await written(KEY);
    expect(await failureOf(() => readClaimCheck(store, reference, noKey))).toEqual({
      code: 'DECRYPTION_FAILED',
      message: `claim check ${key} is encrypted (key k1) and no key is configured: set BACKTRACK_ENCRYPTION_KEY to the key it was written with`,
    });
    const another = keyringFrom({ keyId: 'k2', masterKey: randomBytes(32) });
    expect(await failureOf(() => readClaimCheck(store, reference, another))).toEqual({
      code: 'DECRYPTION_FAILED',
      message: `cannot decrypt claim check ${key}: it was written with key k1, and the configured key k2 is another; set BACKTRACK_ENCRYPTION_KEY (and BACKTRACK_ENCRYPTION_KEY_ID) to the key it was written with`,
    });
    const sameNameOtherKey = keyringFrom({ keyId: 'k1', masterKey: randomBytes(32) });
    expect(await failureOf(() => readClaimCheck(store, reference, sameNameOtherKey))).toEqual({
      code: 'DECRYPTION_FAILED',
      message: expect.stringContaining(
        'the configured key k1 is not the key it was written with',
      ) as unknown,
    });
  });

  it('reads plain objects written before claim checks were encrypted, with a key configured or not', async () => {
    // What capture stored before this module: the Avro encoding as is, at the same key.
    const original = event(7);
    const store = new MemoryStore();
    const key = 'claims/backtrack_main/0000000100001040-7.avro';
    const stored = await store.put(key, encodeChangeEvent(original), {
      contentType: 'application/avro',
    });
    const reference: ChangeEvent = {
      ...original,
      before: null,
      after: null,
      claim: { key, sha256: stored.sha256, size: stored.size },
    };
    for (const keyring of [noKey, withKey]) {
      expect(await readClaimCheck(store, reference, keyring)).toEqual(original);
    }
  });

  it('refuses an object that is not the one referenced', async () => {
    const { store, reference, key } = await written(KEY);
    const original = store.bytes(key);
    const altered = Buffer.from(original);
    altered[altered.length - 100] = (altered[altered.length - 100] ?? 0) ^ 1;
    await store.put(key, altered);
    expect(await failureOf(() => readClaimCheck(store, reference, withKey))).toEqual({
      code: 'INTEGRITY_FAILED',
      message: `the row images of event ${reference.commitLsn}:3 (${key}) do not match their checksum`,
    });
    // Another event's object under this reference (its checksum made to match): refused too.
    const other = await written(undefined, event(4));
    const otherBytes = other.store.bytes(other.key);
    await store.put(key, otherBytes);
    const swapped: ChangeEvent = {
      ...reference,
      claim: { key, sha256: sha256Hex(otherBytes), size: otherBytes.length },
    };
    expect(await failureOf(() => readClaimCheck(store, swapped, withKey))).toMatchObject({
      code: 'INTEGRITY_FAILED',
      message: expect.stringContaining(`belong to event ${reference.commitLsn}:4`) as unknown,
    });
  });

  it('leaves an event without a claim check as it is, without reading the store', async () => {
    const store = new MemoryStore();
    const plain = event(1, 'small');
    expect(await readClaimCheck(store, plain, noKey)).toBe(plain);
    expect(store.objects.size).toBe(0);
  });
});
