/** SHA-256 of stored bytes, as the catalog records it (lower-case hex). */
import { createHash } from 'node:crypto';

/** Hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
