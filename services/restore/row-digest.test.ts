import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { digestRows } from './row-digest.js';

describe('row digest', () => {
  const rows = [
    ['1', 'acme', null],
    ['2', 'acme', 'b'],
    ['3', null, ''],
  ];

  it('does not depend on row order', () => {
    expect(digestRows(rows)).toEqual(digestRows([...rows].reverse()));
  });

  it.each([
    ['a changed value', [['1', 'acme', 'x'], rows[1], rows[2]]],
    ['NULL against empty text', [['1', 'acme', ''], rows[1], rows[2]]],
    ['values shifted between columns', [['1', 'acmeb', null], ['2', '', 'b'], rows[2]]],
    ['a row missing', [rows[0], rows[1]]],
    ['a row twice', [rows[0], rows[0], rows[1], rows[2]]],
  ])('changes with %s', (_, other) => {
    expect(digestRows(other as (string | null)[][])).not.toEqual(digestRows(rows));
  });

  it("is the sum modulo 2^128 of the rows' hashes (carries between lanes included)", () => {
    const many = Array.from({ length: 2000 }, (_, i) => [String(i), i % 7 === 0 ? null : `v${i}`]);
    let sum = 0n;
    for (const row of many) {
      const text = row.map((v) => (v === null ? '\u0000N' : `\u0000S${v}`)).join('');
      const half = createHash('sha256').update(text, 'utf8').digest().subarray(0, 16);
      sum = (sum + BigInt(`0x${half.toString('hex')}`)) % (1n << 128n);
    }
    expect(digestRows(many).digest).toBe(sum.toString(16).padStart(32, '0'));
  });

  it('counts rows', () => {
    expect(digestRows(rows).rows).toBe(3);
    expect(digestRows([])).toEqual({ rows: 0, digest: '0'.repeat(32) });
  });
});
