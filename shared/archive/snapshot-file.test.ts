import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { type Keyring, keyringFrom, type MasterKey } from './encryption.js';
import {
  countStoredRows,
  decodeManifest,
  encodeManifest,
  readTableData,
  type SnapshotManifest,
  tableDataStream,
} from './snapshot-file.js';

const KEY: MasterKey = { id: 'k', key: randomBytes(32) };
const withKey: Keyring = keyringFrom({ masterKey: KEY.key, keyId: 'k' });

function copyText(rows: number): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) lines.push(`${i}\tacme\tvalue \\t with tab ${i}\t\\N\n`);
  return Buffer.from(lines.join(''));
}

async function stored(input: Buffer, encrypt: boolean): Promise<{ bytes: Buffer; rows: bigint }> {
  const pieces: Buffer[] = [];
  for (let at = 0; at < input.length; at += 65_536) pieces.push(input.subarray(at, at + 65_536));
  const data = tableDataStream(Readable.from(pieces), {
    compressionLevel: 1,
    encryptWith: encrypt ? KEY : undefined,
  });
  const parts: Buffer[] = [];
  const read = (async () => {
    for await (const chunk of data.output) parts.push(chunk as Buffer);
  })();
  await data.finished;
  await read;
  return { bytes: Buffer.concat(parts), rows: data.counter.rows };
}

async function plain(readable: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of readable) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

describe('snapshot table data', () => {
  it.each([0, 1, 20_000, 60_000])(
    'stores %i rows as gzip that reads back exactly, counted',
    async (rows) => {
      const input = copyText(rows);
      const { bytes, rows: counted } = await stored(input, false);
      expect(counted).toBe(BigInt(rows));
      expect(gunzipSync(bytes).equals(input)).toBe(true);
      const read = await plain(readTableData(Readable.from([bytes]), keyringFrom(undefined), 't'));
      expect(read.equals(input)).toBe(true);
      expect(await countStoredRows(Readable.from([bytes]), keyringFrom(undefined), 't')).toBe(
        BigInt(rows),
      );
      if (rows > 1000) expect(bytes.length).toBeLessThan(input.length / 3);
    },
  );

  it('encrypts, and reads back only with the key', async () => {
    const input = copyText(30_000);
    const { bytes } = await stored(input, true);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('BTCRYPT1');
    expect((await plain(readTableData(Readable.from([bytes]), withKey, 't'))).equals(input)).toBe(
      true,
    );
    await expect(
      plain(readTableData(Readable.from([bytes]), keyringFrom(undefined), 't')),
    ).rejects.toThrow(/no key is configured/);
  });

  it('reports damaged data as INTEGRITY_FAILED', async () => {
    const { bytes } = await stored(copyText(30_000), false);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    await expect(
      countStoredRows(Readable.from([bytes]), keyringFrom(undefined), 't'),
    ).rejects.toMatchObject({ code: 'INTEGRITY_FAILED' });
  });
});

describe('snapshot manifest', () => {
  it('round-trips, encrypted or not, and refuses what is not a manifest', () => {
    const manifest: SnapshotManifest = {
      format: 'backtrack-snapshot/1',
      id: '0f8fad5b-d9cb-469f-a165-70867728950e',
      tenant: 'acme',
      kind: 'full',
      takenAt: '2026-11-20 10:15:00.123456+00',
      snapshot: { xmin: '100', xmax: '110', xip: ['104'] },
      lsn: '0/16B3748',
      serverVersion: '15.20',
      log: {
        topic: 'bt.txlog',
        partition: 2,
        offset: '42',
        truncatePartition: 1,
        truncateOffset: '7',
      },
      tables: [],
      createdBy: 'test',
    };
    expect(
      decodeManifest(encodeManifest(manifest, undefined), keyringFrom(undefined), 'm'),
    ).toEqual(manifest);
    expect(decodeManifest(encodeManifest(manifest, KEY), withKey, 'm')).toEqual(manifest);
    expect(() =>
      decodeManifest(Buffer.from('{"format":"x"}'), keyringFrom(undefined), 'm'),
    ).toThrow(/not valid/);
  });
});
