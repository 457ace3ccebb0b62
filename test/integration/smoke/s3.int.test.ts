/**
 * Object storage through our port: put with a checksum, get, list across pages (more than
 * 1000 keys), a 20 MiB multipart upload streamed from a generator, and delete many.
 */
import { createHash, randomBytes } from 'node:crypto';

import { describe, expect, test } from '../../support/fixtures.js';

const MIB = 1024 * 1024;

/** 20 MiB in irregular chunks, derived from a seed so the test can recompute the hash. */
function* twentyMiB(seed: Buffer): Generator<Uint8Array> {
  let produced = 0;
  let i = 0;
  while (produced < 20 * MIB) {
    const size = Math.min(20 * MIB - produced, 300_000 + ((i * 7919) % 400_000));
    const chunk = Buffer.alloc(size, seed[i % seed.length]);
    chunk.writeUInt32BE(i, 0);
    yield chunk;
    produced += size;
    i += 1;
  }
}

async function sha256Of(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of source) hash.update(chunk);
  return hash.digest('hex');
}

async function inParallel<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

describe('s3 smoke', () => {
  test('put with checksum, get, paginated list, streamed multipart upload, delete many', async ({
    s3,
  }) => {
    const { store } = s3;
    const body = randomBytes(4096);
    const put = await store.put('single/object.bin', body, { metadata: { tenant: 'acme' } });
    expect(put.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect((await store.get('single/object.bin')).equals(body)).toBe(true);
    expect((await store.head('single/object.bin'))?.metadata).toEqual({ tenant: 'acme' });
    expect(await store.head('single/absent.bin')).toBeUndefined();
    await expect(store.get('single/absent.bin')).rejects.toMatchObject({
      code: 'STORAGE_NOT_FOUND',
    });

    const keys = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(5, '0')}`);
    await inParallel(keys, 32, (key) => store.put(key, Buffer.from(key)));
    const listed: string[] = [];
    for await (const object of store.list('many/')) listed.push(object.key);
    expect(listed).toEqual(keys);

    const seed = randomBytes(64);
    const uploaded = await store.upload('big/twenty.bin', twentyMiB(seed), {
      partSizeBytes: 5 * MIB,
    });
    expect(uploaded.size).toBe(20 * MIB);
    expect(uploaded.parts).toBe(4);
    expect(uploaded.sha256).toBe(await sha256Of(twentyMiB(seed)));
    expect(await sha256Of(await store.getStream('big/twenty.bin'))).toBe(uploaded.sha256);

    const deleted = await store.deleteMany([
      ...keys,
      'big/twenty.bin',
      'single/object.bin',
      'never/existed',
    ]);
    expect(deleted.failed).toEqual([]);
    const remaining: string[] = [];
    for await (const object of store.list()) remaining.push(object.key);
    expect(remaining).toEqual([]);
  });
});
