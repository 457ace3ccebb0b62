/**
 * Claim checks: the row images of an event too large for a Kafka record, kept in object
 * storage while the event in the log carries only a reference to them. Capture writes them
 * and restore reads them; this file is the whole contract between the two:
 *   - the key, `claims/<slot>/<commit LSN, 16 hex digits>-<sequence>.avro`, one per event
 *     position of a slot;
 *   - the object, the event's Avro encoding (the full event, row images included),
 *     encrypted when a key is configured, exactly as segments and snapshots are
 *     (encryption.ts: `BTCRYPT1` first, the key id in the header);
 *   - the reference, {@link ClaimCheck}: key, and SHA-256 and size of the stored bytes
 *     (ciphertext when encrypted), so a reader checks the object before it decrypts it.
 * Objects written before claim checks were encrypted are plain Avro and still read.
 */
import { BacktrackError } from '../errors.js';
import {
  type ChangeEvent,
  type ClaimCheck,
  decodeChangeEvent,
  TXLOG_MAX_MESSAGE_BYTES,
} from '../events/index.js';
import type { Lsn } from '../lsn.js';
import type { ObjectStore } from '../s3/index.js';

import { sha256Hex } from './checksum.js';
import { decrypt, encrypt, type Keyring, type MasterKey } from './encryption.js';
import { encodeTenant } from './keys.js';

/** Events whose encoding is larger than this keep their row images in a claim check (bytes). */
export const CLAIM_CHECK_BYTES = TXLOG_MAX_MESSAGE_BYTES / 2;

/** Where claim checks are written, and the key that encrypts them (none: stored plain). */
export interface ClaimCheckSink {
  readonly store: Pick<ObjectStore, 'put'>;
  readonly encryptWith: MasterKey | undefined;
}

/** The key of the claim check of the event at (`commitLsn`, `sequence`) captured by `slot`. */
export function claimCheckKey(slot: string, commitLsn: Lsn, sequence: number): string {
  if (slot.length === 0 || slot.includes('/')) {
    throw new BacktrackError('VALIDATION_FAILED', `not a replication slot name: "${slot}"`);
  }
  if (!Number.isInteger(sequence) || sequence < 0) {
    throw new BacktrackError('VALIDATION_FAILED', `not an event sequence: ${sequence}`);
  }
  return `claims/${slot}/${commitLsn.toString(16).padStart(16, '0')}-${sequence}.avro`;
}

/**
 * Stores `event` (whose Avro encoding is `encoded`) as a claim check and returns the event
 * the log carries instead: the same event without row images, with the reference.
 *
 * A capture that repeats a transaction Kafka did not commit writes the same key again,
 * with a fresh data key when encrypted; only the repeat's reference is ever committed, so
 * no committed reference names the overwritten bytes. Transactions Kafka committed are
 * skipped on repeat (their checkpoint is in the same Kafka transaction).
 */
export async function writeClaimCheck(
  sink: ClaimCheckSink,
  slot: string,
  event: ChangeEvent,
  encoded: Buffer,
): Promise<ChangeEvent> {
  const key = claimCheckKey(slot, event.commitLsn, event.sequence);
  const master = sink.encryptWith;
  // The row images never reach the store in clear when a key is configured.
  const body = master ? encrypt(encoded, master) : encoded;
  const stored = await sink.store.put(key, body, {
    contentType: master ? 'application/octet-stream' : 'application/avro',
    metadata: {
      'backtrack-tenant': encodeTenant(event.tenant),
      'backtrack-key-id': master?.id ?? '',
    },
  });
  return {
    ...event,
    before: null,
    after: null,
    claim: { key, sha256: stored.sha256, size: stored.size },
  };
}

/**
 * The event with its row images back from its claim check (as is when it has none).
 * INTEGRITY_FAILED when the object is not the one referenced (checksum, size, position);
 * DECRYPTION_FAILED, saying what to configure, when it is encrypted and `keyring` lacks its
 * key. A plain object (written unencrypted, or by a version before encryption) reads as is.
 */
export async function readClaimCheck(
  store: Pick<ObjectStore, 'get'>,
  event: ChangeEvent,
  keyring: Keyring,
): Promise<ChangeEvent> {
  const claim = event.claim;
  if (!claim) return event;
  const stored = await store.get(claim.key);
  if (stored.length !== claim.size || sha256Hex(stored) !== claim.sha256) {
    throw mismatch(event, claim, 'do not match their checksum');
  }
  const full = decodeChangeEvent(decrypt(stored, keyring, `claim check ${claim.key}`));
  if (full.commitLsn !== event.commitLsn || full.sequence !== event.sequence) {
    throw mismatch(event, claim, `belong to event ${full.commitLsn}:${full.sequence}`);
  }
  return { ...event, before: full.before, after: full.after, claim: null };
}

function mismatch(event: ChangeEvent, claim: ClaimCheck, why: string): BacktrackError {
  return new BacktrackError(
    'INTEGRITY_FAILED',
    `the row images of event ${event.commitLsn}:${event.sequence} (${claim.key}) ${why}`,
    { details: { key: claim.key } },
  );
}
