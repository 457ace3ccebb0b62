import { describe, expect, it } from 'vitest';

import { formatInstant, parseTarget } from './target.js';

const us = (iso: string, micros = 0n) => BigInt(Date.parse(iso)) * 1000n + micros;

describe('parseTarget', () => {
  it.each([
    ['2026-11-20T10:15:00Z', us('2026-11-20T10:15:00Z')],
    ['2026-11-20T10:15:00.123456Z', us('2026-11-20T10:15:00Z', 123_456n)],
    ['2026-11-20T11:15:00.5+01:00', us('2026-11-20T10:15:00Z', 500_000n)],
    ['2026-11-20 05:15:00-0500', us('2026-11-20T10:15:00Z')],
    ['2024-02-29T23:59:59.999999Z', us('2024-02-29T23:59:59Z', 999_999n)],
  ])('reads %s', (text, expected) => {
    const target = parseTarget(text);
    expect(target).toMatchObject({ kind: 'time', us: expected });
  });

  it('reads an LSN', () => {
    expect(parseTarget('16/b374d848')).toMatchObject({ kind: 'lsn', text: '16/B374D848' });
  });

  it.each([
    ['yesterday'],
    ['2026-11-20T10:15:00'],
    ['2026-11-20'],
    ['2026-13-01T00:00:00Z'],
    ['2026-02-30T00:00:00Z'],
    ['2026-11-20T25:00:00Z'],
    ['2026-11-20T10:15:00.1234567Z'],
    [''],
  ])('refuses %j with the accepted forms', (text) => {
    expect(() => parseTarget(text)).toThrow(/ISO-8601|not a real instant/);
  });

  it('formats instants with microseconds, in UTC', () => {
    expect(formatInstant(us('2026-11-20T10:15:00Z', 42n))).toBe('2026-11-20T10:15:00.000042Z');
  });
});
