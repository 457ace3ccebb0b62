/**
 * `backtrack verify`: re-reads every stored object the catalog knows (segments, snapshot
 * tables, snapshot manifests) and checks it: present, its SHA-256 and size as recorded,
 * decryptable, decodable, and its counts (events, rows) as recorded. Reports per object and
 * never stops halfway. Also reports coverage gaps and objects the catalog does not know
 * (orphans of interrupted flushes), as warnings.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

import { sha256Hex } from '../../shared/archive/checksum.js';
import { rangeGaps } from '../../shared/archive/coverage.js';
import type { Keyring } from '../../shared/archive/encryption.js';
import { tenantPrefix } from '../../shared/archive/keys.js';
import { decodeSegment } from '../../shared/archive/segment-file.js';
import { countStoredRows, decodeManifest } from '../../shared/archive/snapshot-file.js';
import { listRanges } from '../../shared/catalog/archive-ranges.js';
import { type BaseSnapshot, listSnapshots } from '../../shared/catalog/base-snapshots.js';
import { listSegments, type Segment } from '../../shared/catalog/segments.js';
import { listSnapshotTables, type SnapshotTable } from '../../shared/catalog/snapshot-tables.js';
import { requireTenant } from '../../shared/catalog/tenants.js';
import { describeError, isBacktrackError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { PgPool } from '../../shared/pg/index.js';
import type { ObjectStore } from '../../shared/s3/index.js';

/** What verify needs. */
export interface VerifyDeps {
  readonly catalog: PgPool;
  readonly store: ObjectStore;
  readonly keyring: Keyring;
  readonly log: Logger;
  /** Objects read at once. */
  readonly concurrency?: number;
}

/** The verdict on one object. */
export type VerifyStatus = 'ok' | 'corrupt' | 'missing' | 'unreadable';

/** One verified object. */
export interface VerifiedObject {
  readonly kind: 'segment' | 'snapshot-table' | 'snapshot-manifest';
  readonly key: string;
  readonly tenant: string;
  readonly status: VerifyStatus;
  /** What is wrong (empty when ok). */
  readonly problems: readonly string[];
  readonly snapshotId?: string;
}

/** The whole report. */
export interface VerifyReport {
  readonly objects: readonly VerifiedObject[];
  readonly counts: Readonly<Record<VerifyStatus, number>>;
  /** Stretches of partitions no range covers (warnings). */
  readonly gaps: readonly { topic: string; partition: number; from: string; to: string }[];
  /** Objects under the verified tenants that the catalog does not know (warnings). */
  readonly orphans: readonly string[];
  /** True when every object is ok. */
  readonly ok: boolean;
}

/** Classifies a failure to read an object. */
function failure(e: unknown): { status: VerifyStatus; problem: string } {
  if (isBacktrackError(e, 'STORAGE_NOT_FOUND'))
    return { status: 'missing', problem: 'the object is not in the bucket' };
  if (isBacktrackError(e, 'DECRYPTION_FAILED'))
    return { status: 'unreadable', problem: describeError(e) };
  if (isBacktrackError(e, 'INTEGRITY_FAILED'))
    return { status: 'corrupt', problem: describeError(e) };
  // Anything else (storage unavailable, …): this object could not be checked.
  return { status: 'unreadable', problem: describeError(e) };
}

async function verifySegment(deps: VerifyDeps, segment: Segment): Promise<VerifiedObject> {
  const base = { kind: 'segment' as const, key: segment.key, tenant: segment.tenant };
  const problems: string[] = [];
  try {
    const bytes = await deps.store.get(segment.key);
    if (bytes.length !== segment.sizeBytes)
      problems.push(`size is ${bytes.length}, the catalog says ${segment.sizeBytes}`);
    if (sha256Hex(bytes) !== segment.sha256) problems.push('SHA-256 differs from the catalog');
    if (problems.length > 0) return { ...base, status: 'corrupt', problems };
    const { metadata } = await decodeSegment(bytes, deps.keyring, segment.key);
    const expected: [string, unknown, unknown][] = [
      ['tenant', metadata.tenant, segment.tenant],
      ['partition', metadata.partition, segment.partition],
      ['first offset', metadata.firstOffset, segment.firstOffset],
      ['last offset', metadata.lastOffset, segment.lastOffset],
      ['event count', metadata.eventCount, segment.eventCount],
      ['range end', metadata.rangeTo, segment.rangeTo],
      ['range start', metadata.rangeFrom, segment.rangeFrom],
    ];
    for (const [what, found, recorded] of expected) {
      if (found !== recorded)
        problems.push(`${what} is ${String(found)}, the catalog says ${String(recorded)}`);
    }
    return { ...base, status: problems.length > 0 ? 'corrupt' : 'ok', problems };
  } catch (e) {
    const { status, problem } = failure(e);
    return { ...base, status, problems: [problem] };
  }
}

async function verifySnapshotTable(
  deps: VerifyDeps,
  snapshot: BaseSnapshot,
  table: SnapshotTable,
): Promise<VerifiedObject | undefined> {
  if (table.objectKey === null) return undefined;
  const key = table.objectKey;
  const base = {
    kind: 'snapshot-table' as const,
    key,
    tenant: snapshot.tenant,
    snapshotId: snapshot.id,
  };
  try {
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const rows = await countStoredRows(
      (await deps.store.getStream(key)).pipe(tap),
      deps.keyring,
      key,
    );
    const problems: string[] = [];
    if (hash.digest('hex') !== table.sha256) problems.push('SHA-256 differs from the catalog');
    if (size !== table.sizeBytes)
      problems.push(`size is ${size}, the catalog says ${table.sizeBytes}`);
    if (rows !== table.rows) problems.push(`holds ${rows} rows, the catalog says ${table.rows}`);
    return { ...base, status: problems.length > 0 ? 'corrupt' : 'ok', problems };
  } catch (e) {
    const { status, problem } = failure(e);
    return { ...base, status, problems: [problem] };
  }
}

async function verifyManifest(
  deps: VerifyDeps,
  snapshot: BaseSnapshot,
  tables: readonly SnapshotTable[],
): Promise<VerifiedObject | undefined> {
  if (snapshot.manifestKey === null) return undefined;
  const key = snapshot.manifestKey;
  const base = {
    kind: 'snapshot-manifest' as const,
    key,
    tenant: snapshot.tenant,
    snapshotId: snapshot.id,
  };
  try {
    const bytes = await deps.store.get(key);
    if (sha256Hex(bytes) !== snapshot.manifestSha256)
      return { ...base, status: 'corrupt', problems: ['SHA-256 differs from the catalog'] };
    const manifest = decodeManifest(bytes, deps.keyring, key);
    const problems: string[] = [];
    if (manifest.id !== snapshot.id || manifest.tenant !== snapshot.tenant)
      problems.push('it describes another snapshot');
    if (manifest.tables.length !== tables.length)
      problems.push(`it lists ${manifest.tables.length} tables, the catalog ${tables.length}`);
    return { ...base, status: problems.length > 0 ? 'corrupt' : 'ok', problems };
  } catch (e) {
    const { status, problem } = failure(e);
    return { ...base, status, problems: [problem] };
  }
}

/** Runs `work` over `items`, `concurrency` at a time, keeping the order of results. */
async function inParallel<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** Verifies everything, or one tenant's objects. TENANT_NOT_FOUND for an unknown tenant. */
export async function runVerify(
  deps: VerifyDeps,
  options: { tenant?: string } = {},
): Promise<VerifyReport> {
  if (options.tenant !== undefined) await requireTenant(deps.catalog, options.tenant);
  const concurrency = deps.concurrency ?? 4;
  const segments = await listSegments(deps.catalog, {
    tenant: options.tenant,
    includeCompacted: true,
  });
  const snapshots = await listSnapshots(deps.catalog, {
    tenant: options.tenant,
    status: 'completed',
  });
  const objects: VerifiedObject[] = await inParallel(segments, concurrency, (s) =>
    verifySegment(deps, s),
  );
  const known = new Set(segments.map((s) => s.key));
  for (const snapshot of snapshots) {
    const tables = await listSnapshotTables(deps.catalog, snapshot.id);
    const checked = await inParallel(tables, concurrency, (t) =>
      verifySnapshotTable(deps, snapshot, t),
    );
    const manifest = await verifyManifest(deps, snapshot, tables);
    for (const item of [...checked, manifest]) if (item) objects.push(item);
    for (const t of tables) if (t.objectKey) known.add(t.objectKey);
    if (snapshot.manifestKey) known.add(snapshot.manifestKey);
  }

  const gaps: VerifyReport['gaps'][number][] = [];
  const partitions = new Set(segments.map((s) => `${s.topic}\0${s.partition}`));
  for (const id of partitions) {
    const [topic = '', partition = '0'] = id.split('\0');
    for (const gap of rangeGaps(await listRanges(deps.catalog, topic, Number(partition)))) {
      gaps.push({
        topic,
        partition: Number(partition),
        from: gap.from.toString(),
        to: gap.to.toString(),
      });
    }
  }
  const orphans: string[] = [];
  const tenants = new Set(
    options.tenant !== undefined
      ? [options.tenant]
      : [...segments.map((s) => s.tenant), ...snapshots.map((s) => s.tenant)],
  );
  for (const tenant of tenants) {
    for await (const object of deps.store.list(tenantPrefix(tenant))) {
      if (!known.has(object.key)) orphans.push(object.key);
    }
  }

  const counts: Record<VerifyStatus, number> = { ok: 0, corrupt: 0, missing: 0, unreadable: 0 };
  for (const object of objects) counts[object.status] += 1;
  deps.log.info({ ...counts, gaps: gaps.length, orphans: orphans.length }, 'verify finished');
  return { objects, counts, gaps, orphans, ok: counts.ok === objects.length };
}
