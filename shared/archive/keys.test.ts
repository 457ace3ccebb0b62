import { describe, expect, it } from 'vitest';

import {
  encodeTenant,
  MAX_ENCODED_TENANT,
  segmentKey,
  snapshotManifestKey,
  snapshotTableKey,
} from './keys.js';

const SNAPSHOT = '0f8fad5b-d9cb-469f-a165-70867728950e';

describe('tenant encoding', () => {
  it.each([
    ['acme', 'acme'],
    ['Tenant_42-b', 'Tenant_42-b'],
    ['a.b', 'a%2Eb'],
    ['.', '%2E'],
    ['..', '%2E%2E'],
    ['a/b', 'a%2Fb'],
    ['with space', 'with%20space'],
    ['100%', '100%25'],
    ['~x', '%7Ex'],
    ['café', 'caf%C3%A9'],
    ['🦆', '%F0%9F%A6%86'],
    ['_all', '_all'],
  ])('%j → %s', (tenant, encoded) => {
    expect(encodeTenant(tenant)).toBe(encoded);
  });

  it('is injective on ids that differ only in case or in encoded characters', () => {
    const ids = ['a', 'A', 'a.', 'a%2E', 'a%', 'a%25', 'a b', 'a+b'];
    expect(new Set(ids.map(encodeTenant)).size).toBe(ids.length);
  });

  it('hashes ids whose encoding is too long, in a form no short id can take', () => {
    const long = 'é'.repeat(100);
    const encoded = encodeTenant(long);
    expect(encoded).toMatch(/^~sha256-[0-9a-f]{64}$/);
    expect(encodeTenant('x'.repeat(MAX_ENCODED_TENANT))).toBe('x'.repeat(MAX_ENCODED_TENANT));
    expect(encodeTenant('x'.repeat(MAX_ENCODED_TENANT + 1))).toMatch(/^~sha256-/);
  });

  it('refuses an empty id', () => {
    expect(() => encodeTenant('')).toThrow(/cannot be empty/);
  });
});

describe('segment keys', () => {
  it('are deterministic and sort by offset', () => {
    expect(segmentKey('acme', 3, 17n, 1_234n)).toBe(
      'tenants/acme/segments/3/00000000000000000017-00000000000000001234.avro',
    );
    const keys = [segmentKey('t', 0, 900n, 950n), segmentKey('t', 0, 1_000n, 1_001n)];
    expect([...keys].sort()).toEqual(keys);
  });

  it('keep a hostile tenant inside its own prefix', () => {
    expect(segmentKey('../other', 0, 1n, 2n)).toMatch(/^tenants\/%2E%2E%2Fother\/segments\//);
  });

  it('refuse impossible offsets and partitions', () => {
    expect(() => segmentKey('t', 0, 5n, 4n)).toThrow(/before its first/);
    expect(() => segmentKey('t', -1, 1n, 1n)).toThrow(/not a Kafka partition/);
    expect(() => segmentKey('t', 0, -1n, 1n)).toThrow(/negative/);
  });
});

describe('snapshot keys', () => {
  it('place tables and the manifest under the snapshot', () => {
    expect(snapshotTableKey('acme', SNAPSHOT, 'app', 'order.lines')).toBe(
      `tenants/acme/snapshots/${SNAPSHOT}/app.order%2Elines.copy.gz`,
    );
    expect(snapshotManifestKey('acme', SNAPSHOT)).toBe(
      `tenants/acme/snapshots/${SNAPSHOT}/manifest.json`,
    );
  });

  it('refuse an id that is not a UUID', () => {
    expect(() => snapshotManifestKey('acme', '../x')).toThrow(/not a snapshot id/);
  });
});
