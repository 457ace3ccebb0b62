/**
 * An order-independent digest of a set of rows: the count, and the sum modulo 2^128 of a
 * 128-bit hash (SHA-256, first half) of each row's values. The fold's rows and the rows
 * read back from the restored table (COPY text, unescaped) digest alike whatever their order.
 */
import { hash } from 'node:crypto';

const LANE = 2 ** 32;

/**
 * One string per row, injective: each value is preceded by NUL and a tag (`N` for NULL,
 * `S` for a string). Postgres text cannot contain NUL, so the values cannot forge a tag.
 */
function encodeRow(row: readonly (string | null)[]): string {
  let text = '';
  for (const value of row) text += value === null ? '\u0000N' : `\u0000S${value}`;
  return text;
}

/** Accumulates rows; `value()` is the digest so far. */
export class RowDigest {
  /** The sum as four 32-bit lanes, most significant first. */
  private readonly lanes = [0, 0, 0, 0];
  private rows = 0;

  add(row: readonly (string | null)[]): void {
    const digest = hash('sha256', encodeRow(row), 'buffer');
    let carry = 0;
    for (let i = 3; i >= 0; i--) {
      const sum = (this.lanes[i] ?? 0) + digest.readUInt32BE(i * 4) + carry;
      this.lanes[i] = sum % LANE;
      carry = sum >= LANE ? 1 : 0;
    }
    // The carry out of the top lane is dropped: the sum is modulo 2^128.
    this.rows += 1;
  }

  /** Row count and the hex digest. */
  value(): { rows: number; digest: string } {
    return {
      rows: this.rows,
      digest: this.lanes.map((lane) => lane.toString(16).padStart(8, '0')).join(''),
    };
  }
}

/** The digest of `rows`. */
export function digestRows(rows: Iterable<readonly (string | null)[]>): {
  rows: number;
  digest: string;
} {
  const digest = new RowDigest();
  for (const row of rows) digest.add(row);
  return digest.value();
}
