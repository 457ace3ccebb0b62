/**
 * Postgres WAL positions. Inside Backtrack an LSN is a 64-bit unsigned bigint; the
 * `"X/Y"` text form (two hex numbers of up to 8 digits) exists only at the edges.
 */
import { BacktrackError } from './errors.js';

/** A WAL position: a bigint in [0, 2^64). */
export type Lsn = bigint & { readonly __lsn: unique symbol };

const MAX = (1n << 64n) - 1n;
const TEXT_FORM = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** The zero position (`0/0`), before any WAL. */
export const LSN_ZERO = 0n as Lsn;

/** Wraps a bigint as an Lsn; throws when it is outside [0, 2^64). */
export function lsnFromBigInt(value: bigint): Lsn {
  if (value < 0n || value > MAX) {
    throw new BacktrackError('VALIDATION_FAILED', `LSN ${value} is outside [0, 2^64)`);
  }
  return value as Lsn;
}

/** True when `text` is an LSN in Postgres text form. */
export function isLsnText(text: string): boolean {
  return TEXT_FORM.test(text);
}

/** Parses Postgres text form (`16/B374D848`, case-insensitive). */
export function parseLsn(text: string): Lsn {
  const match = TEXT_FORM.exec(text);
  if (!match) {
    throw new BacktrackError(
      'VALIDATION_FAILED',
      `"${text}" is not an LSN; expected the Postgres form X/Y with hex numbers, e.g. 0/16B3748`,
    );
  }
  const [, high = '0', low = '0'] = match;
  const h = parseInt(high, 16);
  const l = parseInt(low, 16);
  // Every position below 2^53 (a 9 PB WAL) is exact as a number: one bigint, not three.
  if (h < 0x200000) return BigInt(h * 0x1_0000_0000 + l) as Lsn;
  return ((BigInt(h) << 32n) | BigInt(l)) as Lsn;
}

/** Formats as Postgres does: upper-case hex, no leading zeros (`0/16B3748`). */
export function formatLsn(lsn: Lsn): string {
  const high = lsn >> 32n;
  const low = lsn & 0xffffffffn;
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}

/** Negative, zero or positive as `a` is before, at or after `b`. */
export function compareLsn(a: Lsn, b: Lsn): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The later of two positions. */
export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a >= b ? a : b;
}

/** Bytes of WAL from `from` to `to` (negative when `to` is before `from`). */
export function lsnDistance(from: Lsn, to: Lsn): bigint {
  return to - from;
}
