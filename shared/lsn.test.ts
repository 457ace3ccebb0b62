import { describe, expect, it } from 'vitest';

import { BacktrackError } from './errors.js';
import {
  compareLsn,
  formatLsn,
  isLsnText,
  lsnDistance,
  lsnFromBigInt,
  maxLsn,
  parseLsn,
} from './lsn.js';

describe('parseLsn / formatLsn', () => {
  it.each([
    ['0/0', 0n, '0/0'],
    ['0/16B3748', 0x16b3748n, '0/16B3748'],
    ['16/b374d848', (0x16n << 32n) | 0xb374d848n, '16/B374D848'],
    ['00000001/00000000', 1n << 32n, '1/0'],
    ['0/FFFFFFFF', 0xffffffffn, '0/FFFFFFFF'],
    ['1FFFFF/FFFFFFFF', (1n << 53n) - 1n, '1FFFFF/FFFFFFFF'],
    ['200000/0', 1n << 53n, '200000/0'],
    ['200000/1', (1n << 53n) + 1n, '200000/1'],
    ['FFFFFFFF/FFFFFFFF', (1n << 64n) - 1n, 'FFFFFFFF/FFFFFFFF'],
  ])('%s is %s and formats as %s', (text, value, formatted) => {
    const lsn = parseLsn(text);
    expect(lsn).toBe(value);
    expect(formatLsn(lsn)).toBe(formatted);
    expect(parseLsn(formatLsn(lsn))).toBe(lsn);
  });

  it.each(['', '0', '/0', '0/', '1/2/3', 'G/0', '123456789/0', '0/123456789', ' 0/1', '-1/0'])(
    'rejects %j with a message naming the expected form',
    (text) => {
      expect(isLsnText(text)).toBe(false);
      expect(() => parseLsn(text)).toThrow(BacktrackError);
      expect(() => parseLsn(text)).toThrow(/expected the Postgres form X\/Y/);
    },
  );
});

describe('comparison', () => {
  const a = parseLsn('0/FFFFFFFF');
  const b = parseLsn('1/0');

  it('orders across the 32-bit boundary of the low word', () => {
    expect(compareLsn(a, b)).toBe(-1);
    expect(compareLsn(b, a)).toBe(1);
    expect(compareLsn(a, parseLsn('0/ffffffff'))).toBe(0);
    expect(maxLsn(a, b)).toBe(b);
    expect(maxLsn(b, a)).toBe(b);
    expect(lsnDistance(a, b)).toBe(1n);
    expect(lsnDistance(b, a)).toBe(-1n);
  });

  it('refuses values outside 64 bits', () => {
    expect(() => lsnFromBigInt(-1n)).toThrow(/outside/);
    expect(() => lsnFromBigInt(1n << 64n)).toThrow(/outside/);
    expect(lsnFromBigInt((1n << 64n) - 1n)).toBe((1n << 64n) - 1n);
  });
});
