import { describe, expect, it } from 'vitest';

import {
  belongsAfterSnapshot,
  isVisibleInSnapshot,
  parseXidSnapshot,
  widenXid,
  type XidSnapshot,
} from './alignment.js';

const E = 1n << 32n;

describe('widenXid', () => {
  it.each([
    // [what, xid, reference, widened]
    ['epoch 0, behind', 100, 200n, 100n],
    ['epoch 0, ahead', 300, 200n, 300n],
    ['epoch 0, equal', 200, 200n, 200n],
    ['epoch 1, same epoch', 5, E + 10n, E + 5n],
    ['epoch 1, just wrapped: a pre-wrap xid belongs to epoch 0', 0xffff_fff0, E + 10n, E - 16n],
    ['epoch 0 near the end: a post-wrap xid belongs to epoch 1', 20, E - 5n, E + 20n],
    ['epoch 7, far behind (2^31 − 1 back)', 3, 7n * E + (1n << 31n) + 2n, 7n * E + 3n],
    ['epoch 7, exactly 2^31 back goes back', 0x8000_0010, 7n * E + 0x10n, 6n * E + 0x8000_0010n],
    ['epoch 7, 2^31 − 1 ahead stays ahead', 0x8000_000f, 7n * E + 0x10n, 7n * E + 0x8000_000fn],
    ['special xids are permanent', 2, 5n * E + 3n, 2n],
  ])('%s', (_what, xid, reference, widened) => {
    expect(widenXid(xid, reference)).toBe(widened);
  });

  it('refuses values that are not 32-bit xids', () => {
    expect(() => widenXid(-1, 10n)).toThrow(/not a 32-bit/);
    expect(() => widenXid(2 ** 32, 10n)).toThrow(/not a 32-bit/);
    expect(() => widenXid(1.5, 10n)).toThrow(/not a 32-bit/);
  });

  it('refuses an xid that would precede the first transaction', () => {
    expect(() => widenXid(0xffff_fff0, 100n)).toThrow(/precede/);
  });
});

describe('visibility in a snapshot', () => {
  const epoch0: XidSnapshot = { xmin: 100n, xmax: 110n, xip: [100n, 104n, 107n] };
  // A snapshot taken right after the 32-bit counter wrapped into epoch 3.
  const wrapped: XidSnapshot = {
    xmin: 3n * E - 4n,
    xmax: 3n * E + 8n,
    xip: [3n * E - 4n, 3n * E + 4n],
  };

  it.each([
    ['below xmin', epoch0, 99, true],
    ['xmin itself, in progress', epoch0, 100, false],
    ['between xmin and xmax, committed', epoch0, 103, true],
    ['in xip', epoch0, 104, false],
    ['in xip, last', epoch0, 107, false],
    ['just below xmax, committed', epoch0, 109, true],
    ['xmax itself', epoch0, 110, false],
    ['after xmax', epoch0, 5000, false],
    ['long ago (but within 2^31)', epoch0, 3, true],
    ['wrapped: pre-wrap xid below xmin', wrapped, 0xffff_fff0, true],
    ['wrapped: pre-wrap xmin in progress', wrapped, 0xffff_fffc, false],
    ['wrapped: pre-wrap committed between xmin and xmax', wrapped, 0xffff_fffe, true],
    ['wrapped: post-wrap committed', wrapped, 3, true],
    ['wrapped: post-wrap in xip', wrapped, 4, false],
    ['wrapped: post-wrap committed before xmax', wrapped, 7, true],
    ['wrapped: xmax', wrapped, 8, false],
    ['wrapped: later', wrapped, 1000, false],
  ])('%s', (_what, snapshot, xid, visible) => {
    expect(isVisibleInSnapshot(xid, snapshot)).toBe(visible);
    expect(belongsAfterSnapshot(xid, snapshot)).toBe(!visible);
  });
});

describe('parseXidSnapshot', () => {
  it.each([
    ['100:110:100,104', { xmin: 100n, xmax: 110n, xip: [100n, 104n] }],
    ['5:5:', { xmin: 5n, xmax: 5n, xip: [] }],
    [
      '12884901884:12884901894:12884901884',
      { xmin: 3n * E - 4n, xmax: 3n * E + 6n, xip: [3n * E - 4n] },
    ],
  ])('%s', (text, snapshot) => {
    expect(parseXidSnapshot(text)).toEqual(snapshot);
  });

  it('refuses other text', () => {
    expect(() => parseXidSnapshot('1:2')).toThrow(/not a Postgres snapshot/);
  });
});
