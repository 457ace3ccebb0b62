import { randomBytes } from 'node:crypto';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { describe, expect, it } from 'vitest';

import { isBacktrackError } from '../errors.js';

import {
  decrypt,
  decryptingStream,
  encrypt,
  encryptingStream,
  encryptionKeyIdOf,
  isEncrypted,
  type Keyring,
  type MasterKey,
} from './encryption.js';

const KEY: MasterKey = { id: 'k1', key: randomBytes(32) };
const OTHER: MasterKey = { id: 'k2', key: randomBytes(32) };
const SAME_NAME_OTHER_KEY: MasterKey = { id: 'k1', key: randomBytes(32) };

function ring(key: MasterKey | undefined): Keyring {
  return { current: key, find: (id) => (key && key.id === id ? key : undefined) };
}

async function through(stream: Transform, input: Buffer, pieces = 7): Promise<Buffer> {
  const parts: Buffer[] = [];
  const size = Math.max(1, Math.ceil(input.length / pieces));
  const chunks = [];
  for (let at = 0; at < input.length; at += size) chunks.push(input.subarray(at, at + size));
  await pipeline(Readable.from(chunks), stream, async (source: AsyncIterable<unknown>) => {
    for await (const chunk of source) parts.push(chunk as Buffer);
  });
  return Buffer.concat(parts);
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (e) {
    return isBacktrackError(e) ? e.code : 'other';
  }
  return undefined;
}

describe('envelope encryption', () => {
  it.each([0, 1, 1023, 1024, 1025, 4096, 10_000])(
    'round-trips %i bytes in memory and through streams, at chunk boundaries too',
    async (size) => {
      const plain = randomBytes(size);
      const sealed = encrypt(plain, KEY, 1024);
      expect(isEncrypted(sealed)).toBe(true);
      if (size >= 16) expect(sealed.includes(plain.subarray(0, 16))).toBe(false);
      expect(decrypt(sealed, ring(KEY), 'obj')).toEqual(plain);
      expect(await through(decryptingStream(ring(KEY), 'obj'), sealed)).toEqual(plain);
      const streamed = await through(encryptingStream(KEY, 1024), plain);
      expect(decrypt(streamed, ring(KEY), 'obj')).toEqual(plain);
    },
  );

  it('uses a fresh data key per object', () => {
    const plain = Buffer.from('same bytes');
    expect(encrypt(plain, KEY).equals(encrypt(plain, KEY))).toBe(false);
  });

  it('passes plain objects through unchanged', async () => {
    const plain = Buffer.from('Obj\x01 not encrypted');
    expect(decrypt(plain, ring(undefined), 'obj')).toBe(plain);
    expect(await through(decryptingStream(ring(undefined), 'obj'), plain)).toEqual(plain);
    expect(await through(decryptingStream(ring(undefined), 'obj'), Buffer.alloc(0))).toEqual(
      Buffer.alloc(0),
    );
  });

  it('names the key an object was written with', () => {
    expect(encryptionKeyIdOf(encrypt(Buffer.from('x'), KEY))).toBe('k1');
    expect(encryptionKeyIdOf(Buffer.from('x'))).toBeUndefined();
  });

  it('refuses to read without a key, or with another key, saying which', () => {
    const sealed = encrypt(Buffer.from('secret rows'), KEY);
    expect(() => decrypt(sealed, ring(undefined), 'tenants/a/x.avro')).toThrow(
      /tenants\/a\/x\.avro is encrypted \(key k1\) and no key is configured/,
    );
    expect(() => decrypt(sealed, ring(OTHER), 'obj')).toThrow(
      /written with key k1, and the configured key k2 is another/,
    );
    expect(() => decrypt(sealed, ring(SAME_NAME_OTHER_KEY), 'obj')).toThrow(
      /configured key k1 is not the key it was written with/,
    );
    expect(codeOf(() => decrypt(sealed, ring(OTHER), 'obj'))).toBe('DECRYPTION_FAILED');
  });

  it('reads an object whose key was renamed', () => {
    const sealed = encrypt(Buffer.from('rows'), KEY);
    expect(decrypt(sealed, ring({ id: 'renamed', key: KEY.key }), 'obj').toString()).toBe('rows');
  });

  it('detects a flipped byte anywhere, truncation and appended bytes', () => {
    const plain = randomBytes(5000);
    const sealed = encrypt(plain, KEY, 1024);
    for (const at of [20, 60, 100, sealed.length - 1, sealed.length - 20, 1500]) {
      const flipped = Buffer.from(sealed);
      flipped[at] = (flipped[at] ?? 0) ^ 0x01;
      expect(codeOf(() => decrypt(flipped, ring(KEY), 'obj'))).toMatch(
        /INTEGRITY_FAILED|DECRYPTION_FAILED/,
      );
    }
    const headerLength = sealed.length - (plain.length + 5 * 16);
    // Cut right after the second full frame: each surviving frame is intact, but not last.
    const cut = sealed.subarray(0, headerLength + 2 * (1024 + 16));
    expect(codeOf(() => decrypt(cut, ring(KEY), 'obj'))).toBe('INTEGRITY_FAILED');
    const longer = Buffer.concat([sealed, Buffer.from('extra')]);
    expect(codeOf(() => decrypt(longer, ring(KEY), 'obj'))).toBe('INTEGRITY_FAILED');
  });

  it('fails the stream on a corrupt chunk', async () => {
    const sealed = encrypt(randomBytes(5000), KEY, 1024);
    sealed[sealed.length - 3] = (sealed[sealed.length - 3] ?? 0) ^ 0xff;
    await expect(through(decryptingStream(ring(KEY), 'obj'), sealed)).rejects.toThrow(
      /failed authentication/,
    );
  });
});
