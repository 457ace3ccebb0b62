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

  it('counts rows', () => {
    expect(digestRows(rows).rows).toBe(3);
    expect(digestRows([])).toEqual({ rows: 0, digest: '0'.repeat(32) });
  });
});
