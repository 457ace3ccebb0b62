/**
 * Object keys of the archive. Every key is deterministic from what it holds, so a flush or
 * a snapshot that is repeated after a crash writes the same key again:
 *   tenants/<tenant>/segments/<partition>/<firstOffset>-<lastOffset>.avro
 *   tenants/<tenant>/snapshots/<snapshotId>/<schema>.<table>.copy.gz
 *   tenants/<tenant>/snapshots/<snapshotId>/manifest.json
 *
 * Tenant ids come from row data and are not trusted. They are never rejected (the archiver
 * must archive every tenant the log holds), but encoded: ASCII letters, digits, `_` and
 * `-` stay as they are, every other byte of the UTF-8 form becomes `%XX` (so `.`, `..`,
 * `/` and spaces cannot form path segments), and an id whose encoding would pass
 * {@link MAX_ENCODED_TENANT} characters becomes `~sha256-<hex>` (no percent-encoding
 * contains `~`, so the two forms never collide). The encoding is injective; the real id is
 * also in each object's metadata and in the catalog.
 *
 * Offsets are written with 20 digits, so a listing returns segments in offset order.
 */
import { createHash } from 'node:crypto';

import { BacktrackError } from '../errors.js';

/** Longest encoded tenant kept readable; longer ones are hashed (S3 keys stop at 1024 bytes). */
export const MAX_ENCODED_TENANT = 200;

const SAFE_BYTE = /^[A-Za-z0-9_-]$/;
const OFFSET_DIGITS = 20;
const SNAPSHOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The key segment of a tenant id (see the module comment). */
export function encodeTenant(tenant: string): string {
  if (tenant.length === 0) {
    throw new BacktrackError('VALIDATION_FAILED', 'a tenant id cannot be empty');
  }
  let encoded = '';
  for (const byte of Buffer.from(tenant, 'utf8')) {
    const char = String.fromCharCode(byte);
    encoded += SAFE_BYTE.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (encoded.length <= MAX_ENCODED_TENANT) return encoded;
  return `~sha256-${createHash('sha256').update(tenant, 'utf8').digest('hex')}`;
}

function offsetText(offset: bigint): string {
  if (offset < 0n) {
    throw new BacktrackError('VALIDATION_FAILED', `a Kafka offset cannot be negative: ${offset}`);
  }
  return offset.toString().padStart(OFFSET_DIGITS, '0');
}

/** `tenants/<tenant>/`: everything of one tenant. */
export function tenantPrefix(tenant: string): string {
  return `tenants/${encodeTenant(tenant)}/`;
}

/** `tenants/<tenant>/segments/`: every segment of one tenant. */
export function segmentPrefix(tenant: string): string {
  return `${tenantPrefix(tenant)}segments/`;
}

/**
 * The key of a segment: its tenant, partition and the first and last Kafka offsets of the
 * tenant's events in it (data offsets, both inclusive).
 */
export function segmentKey(
  tenant: string,
  partition: number,
  firstOffset: bigint,
  lastOffset: bigint,
): string {
  if (!Number.isInteger(partition) || partition < 0) {
    throw new BacktrackError('VALIDATION_FAILED', `not a Kafka partition: ${partition}`);
  }
  if (lastOffset < firstOffset) {
    throw new BacktrackError(
      'VALIDATION_FAILED',
      `a segment's last offset ${lastOffset} is before its first ${firstOffset}`,
    );
  }
  return `${segmentPrefix(tenant)}${partition}/${offsetText(firstOffset)}-${offsetText(lastOffset)}.avro`;
}

/** `tenants/<tenant>/snapshots/<snapshotId>/`: every object of one base snapshot. */
export function snapshotPrefix(tenant: string, snapshotId: string): string {
  if (!SNAPSHOT_ID.test(snapshotId)) {
    throw new BacktrackError(
      'VALIDATION_FAILED',
      `"${snapshotId}" is not a snapshot id (a lower-case UUID)`,
    );
  }
  return `${tenantPrefix(tenant)}snapshots/${snapshotId}/`;
}

/**
 * The key of one table's data in a snapshot. Schema and table names are encoded like
 * tenant ids, joined by a dot (which the encoding never leaves bare).
 */
export function snapshotTableKey(
  tenant: string,
  snapshotId: string,
  schema: string,
  table: string,
): string {
  return `${snapshotPrefix(tenant, snapshotId)}${encodeTenant(schema)}.${encodeTenant(table)}.copy.gz`;
}

/** The key of a snapshot's manifest (definitions, positions, checksums): the repository stays self-describing. */
export function snapshotManifestKey(tenant: string, snapshotId: string): string {
  return `${snapshotPrefix(tenant, snapshotId)}manifest.json`;
}
