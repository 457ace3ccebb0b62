/**
 * An order-independent digest of a set of rows: the count, and the sum modulo 2^128 of a
 * 128-bit hash (SHA-256, first half) of each row's values. The fold's rows and the rows
 * read back from the restored table (COPY text, unescaped) digest alike whatever their order.
 */
import { createHash } from 'node:crypto';

const MOD = 1n << 128n;
const NULL_TAG = Buffer.from([0xff]);

/** Accumulates rows; `value()` is the digest so far. */
export class RowDigest {
  private sum = 0n;
  private rows = 0;

  add(row: readonly (string | null)[]): void {
    const hash = createHash('sha256');
    for (const value of row) {
      if (value === null) {
        hash.update(NULL_TAG);
      } else {
        const bytes = Buffer.from(value, 'utf8');
        const length = Buffer.alloc(5);
        length.writeUInt8(0, 0);
        length.writeUInt32BE(bytes.length, 1);
        hash.update(length).update(bytes);
      }
    }
    const digest = hash.digest();
    this.sum = (this.sum + BigInt(`0x${digest.subarray(0, 16).toString('hex')}`)) % MOD;
    this.rows += 1;
  }

  /** Row count and the hex digest. */
  value(): { rows: number; digest: string } {
    return { rows: this.rows, digest: this.sum.toString(16).padStart(32, '0') };
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
