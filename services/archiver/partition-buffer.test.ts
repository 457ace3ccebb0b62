import { describe, expect, it } from 'vitest';

import type { IncomingRecord } from '../../shared/kafka/index.js';

import { PartitionBuffer } from './partition-buffer.js';

function record(offset: number, tenant: string | null, size = 10): IncomingRecord {
  return {
    topic: 'bt.txlog',
    partition: 1,
    offset: BigInt(offset),
    key: tenant === null ? null : Buffer.from(tenant),
    value: Buffer.alloc(size),
    headers: {},
    timestampMs: 0,
  };
}

const LIMITS = { maxBytes: 100, maxAgeMs: 1000 };

describe('partition buffer', () => {
  it('covers [from, position) where position counts trailing markers', () => {
    const buffer = new PartitionBuffer('bt.txlog', 1, 40n);
    buffer.add([record(40, 'a'), record(41, 'b')], 43n, 0);
    expect(buffer.position).toBe(43n);
    buffer.advance(45n);
    const sealed = buffer.seal('age');
    expect(sealed).toMatchObject({ from: 40n, to: 45n, bytes: 20, reason: 'age' });
    expect(sealed?.records.map((r) => r.offset)).toEqual([40n, 41n]);
    expect(buffer.from).toBe(45n);
    expect(buffer.position).toBe(45n);
  });

  it('ignores records already read, and never moves the position back', () => {
    const buffer = new PartitionBuffer('bt.txlog', 1, 10n);
    buffer.add([record(5, 'a'), record(9, 'a'), record(10, 'a'), record(12, 'b')], 14n, 0);
    buffer.add([record(12, 'b'), record(13, 'b')], 14n, 0);
    buffer.advance(11n);
    expect(buffer.events).toBe(2);
    expect(buffer.position).toBe(14n);
  });

  it('is due by size of one tenant, by total size, and by age', () => {
    const tenant = new PartitionBuffer('t', 0, 0n);
    tenant.add([record(0, 'a', 60), record(1, 'b', 60)], 2n, 0);
    expect(tenant.due(0, LIMITS)).toBeUndefined();
    tenant.add([record(2, 'a', 40)], 3n, 0);
    expect(tenant.due(0, LIMITS)).toBe('size');

    const many = new PartitionBuffer('t', 0, 0n);
    many.add(
      Array.from({ length: 50 }, (_, i) => record(i, `t${i}`, 9)),
      50n,
      0,
    );
    expect(many.due(0, LIMITS)).toBe('size');

    const old = new PartitionBuffer('t', 0, 0n);
    old.add([record(0, 'a')], 1n, 5_000);
    expect(old.due(5_999, LIMITS)).toBeUndefined();
    expect(old.due(6_000, LIMITS)).toBe('age');
  });

  it('has nothing to seal while empty, and lets the range grow over markers', () => {
    const buffer = new PartitionBuffer('t', 0, 7n);
    buffer.advance(9n);
    expect(buffer.due(1e9, LIMITS)).toBeUndefined();
    expect(buffer.seal('age')).toBeUndefined();
    buffer.add([record(9, 'a')], 11n, 0);
    expect(buffer.seal('age')).toMatchObject({ from: 7n, to: 11n });
  });

  it('restarts the range after a jump', () => {
    const buffer = new PartitionBuffer('t', 0, 7n);
    buffer.jumpTo(20n);
    buffer.add([record(20, 'a')], 21n, 0);
    expect(buffer.seal('gap')).toMatchObject({ from: 20n, to: 21n });
  });
});
