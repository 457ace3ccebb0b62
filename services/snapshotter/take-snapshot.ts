/**
 * One base snapshot of one tenant, as a list of steps:
 *   1. check the tenant and find the captured tables;
 *   2. read the log position (last stable offsets) — before the snapshot begins;
 *   3. record the snapshot as running;
 *   4. BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY, and in its first statement record
 *      pg_current_snapshot(), pg_current_wal_lsn() and the instant it was taken;
 *   5. per table: its definition, and (kinds full, pre_restore) its rows streamed to S3;
 *   6. write the manifest, then mark the snapshot completed with its tables in one
 *      catalog transaction.
 * On failure the snapshot is marked failed and its objects are deleted.
 */
import { randomUUID } from 'node:crypto';

import { parseXidSnapshot, type XidSnapshot } from '../../shared/archive/alignment.js';
import type { MasterKey } from '../../shared/archive/encryption.js';
import { snapshotManifestKey, snapshotTableKey } from '../../shared/archive/keys.js';
import {
  encodeManifest,
  SNAPSHOT_FORMAT,
  type SnapshotManifest,
} from '../../shared/archive/snapshot-file.js';
import {
  completeSnapshot,
  failSnapshot,
  insertRunningSnapshot,
  type SnapshotKind,
} from '../../shared/catalog/base-snapshots.js';
import type { NewSnapshotTable } from '../../shared/catalog/snapshot-tables.js';
import type { Clock } from '../../shared/clock.js';
import type { SnapshotConfig, SourceConfig } from '../../shared/config/index.js';
import { BacktrackError, describeError } from '../../shared/errors.js';
import type { KafkaPort } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging.js';
import { formatLsn, type Lsn, parseLsn } from '../../shared/lsn.js';
import type { PgPool, PgSession } from '../../shared/pg/index.js';
import type { ObjectStore } from '../../shared/s3/index.js';
import { capturedTables, type CapturedTable } from '../../shared/source/captured-tables.js';
import { readTableDefinition } from '../../shared/source/table-definition.js';

import { type LogPosition, readLogPosition } from './log-position.js';
import { copyTable } from './table-copy.js';
import { requireKnownTenant } from './tenant-discovery.js';

/** Seams for tests; none in production. */
export interface SnapshotHooks {
  /** Runs after the snapshot is taken (step 4) and before the first COPY. */
  readonly afterSnapshotTaken?: () => Promise<void>;
}

/** What to snapshot. */
export interface SnapshotRequest {
  readonly tenant: string;
  readonly kind: SnapshotKind;
  /** Who asked (a user, `scheduler`, `restore:<id>`…), for the catalog. */
  readonly createdBy: string;
  readonly label?: string;
  readonly hooks?: SnapshotHooks;
}

/** A completed snapshot. */
export interface SnapshotResult {
  readonly id: string;
  readonly tenant: string;
  readonly kind: SnapshotKind;
  /** The instant the snapshot shows (Postgres text, microseconds kept). */
  readonly takenAt: string;
  readonly xids: XidSnapshot;
  readonly lsn: Lsn;
  readonly log: LogPosition;
  readonly tables: readonly NewSnapshotTable[];
  readonly rows: bigint;
  readonly sizeBytes: number;
  readonly manifestKey: string;
  readonly expiresAt: Date | null;
  readonly durationMs: number;
}

/** The clients and settings a snapshot uses. */
export interface SnapshotContext {
  readonly source: PgPool;
  readonly sourceConfig: SourceConfig;
  readonly catalog: PgPool;
  readonly kafka: KafkaPort;
  readonly topic: string;
  readonly store: ObjectStore;
  readonly settings: SnapshotConfig;
  readonly encryptWith: MasterKey | undefined;
  readonly clock: Clock;
  readonly log: Logger;
}

/** What the first statement of a snapshot transaction fixed. */
export interface TakenSnapshot {
  readonly xids: XidSnapshot;
  readonly lsn: Lsn;
  readonly takenAt: string;
  /** The same instant in microseconds since the Unix epoch. */
  readonly takenAtUs: bigint;
  readonly serverVersion: string;
}

/** Step 4: the first statement of the transaction fixes its snapshot; record it. */
export async function beginSnapshot(session: PgSession): Promise<TakenSnapshot> {
  await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const result = await session.query(
    `SELECT pg_current_snapshot()::text AS snapshot, pg_current_wal_lsn()::text AS lsn,
            at::text AS taken_at, (extract(epoch FROM at) * 1000000)::bigint::text AS taken_at_us,
            current_setting('server_version') AS version
       FROM (SELECT clock_timestamp() AS at) AS now`,
  );
  const row = result.rows[0];
  const text = (value: unknown): string => {
    if (typeof value !== 'string')
      throw new BacktrackError('INTERNAL', 'snapshot position query returned no text');
    return value;
  };
  return {
    xids: parseXidSnapshot(text(row?.snapshot)),
    lsn: parseLsn(text(row?.lsn)),
    takenAt: text(row?.taken_at),
    takenAtUs: BigInt(text(row?.taken_at_us)),
    serverVersion: text(row?.version),
  };
}

/** Step 5: definitions (and rows) of every table, inside the snapshot transaction. */
async function copyTables(
  ctx: SnapshotContext,
  session: PgSession,
  request: SnapshotRequest,
  id: string,
  tables: readonly CapturedTable[],
  written: string[],
): Promise<NewSnapshotTable[]> {
  const copied: NewSnapshotTable[] = [];
  for (const [position, table] of tables.entries()) {
    const definition = await readTableDefinition(session, table, ctx.sourceConfig.tenantColumn);
    if (request.kind === 'schema') {
      copied.push({
        ...table,
        position,
        objectKey: null,
        rows: null,
        sizeBytes: null,
        sha256: null,
        definition,
      });
      continue;
    }
    const key = snapshotTableKey(request.tenant, id, table.schema, table.table);
    written.push(key);
    const stored = await copyTable(session, ctx.store, key, definition, request.tenant, {
      compressionLevel: ctx.settings.compressionLevel,
      partBytes: ctx.settings.partBytes,
      encryptWith: ctx.encryptWith,
    });
    ctx.log.debug(
      { table: `${table.schema}.${table.table}`, rows: stored.rows.toString() },
      'snapshot table copied',
    );
    copied.push({ ...table, position, objectKey: key, ...stored, definition });
  }
  return copied;
}

/** Takes one snapshot (steps above). */
export async function takeSnapshot(
  ctx: SnapshotContext,
  request: SnapshotRequest,
): Promise<SnapshotResult> {
  const startedMs = ctx.clock.nowMs();
  const log = ctx.log.child({ tenant: request.tenant, kind: request.kind });
  // 1.
  const { tables } = await capturedTables(ctx.source, ctx.sourceConfig);
  if (tables.length === 0) {
    throw new BacktrackError(
      'SOURCE_NOT_READY',
      `no captured tables: publication ${ctx.sourceConfig.publication} lists none with a ${ctx.sourceConfig.tenantColumn} column; run \`backtrack setup\``,
    );
  }
  await requireKnownTenant(
    ctx.catalog,
    ctx.source,
    tables,
    ctx.sourceConfig.tenantColumn,
    request.tenant,
  );
  // 2. Before the snapshot: every event it cannot see is at or after these offsets.
  const position = await readLogPosition(ctx.kafka, ctx.topic, request.tenant);
  // 3.
  const id = randomUUID();
  const expiresAt =
    request.kind === 'pre_restore'
      ? new Date(ctx.clock.nowMs() + ctx.settings.preRestoreRetentionDays * 86_400_000)
      : null;
  await insertRunningSnapshot(ctx.catalog, {
    id,
    tenant: request.tenant,
    kind: request.kind,
    logTopic: position.topic,
    logPartition: position.partition,
    logOffset: position.offset,
    truncatePartition: position.truncatePartition,
    truncateOffset: position.truncateOffset,
    expiresAt,
    keyId: ctx.encryptWith?.id,
    createdBy: request.createdBy,
    label: request.label,
  });
  log.info({ snapshot: id, tables: tables.length }, 'snapshot started');

  const written: string[] = [];
  const session = await ctx.source.connect();
  let broken = false;
  try {
    // 4.
    const taken = await beginSnapshot(session);
    await request.hooks?.afterSnapshotTaken?.();
    // 5.
    const copied = await copyTables(ctx, session, request, id, tables, written);
    await session.query('COMMIT');
    // 6.
    const manifestKey = snapshotManifestKey(request.tenant, id);
    const manifest: SnapshotManifest = {
      format: SNAPSHOT_FORMAT,
      id,
      tenant: request.tenant,
      kind: request.kind,
      takenAt: taken.takenAt,
      snapshot: {
        xmin: taken.xids.xmin.toString(),
        xmax: taken.xids.xmax.toString(),
        xip: taken.xids.xip.map(String),
      },
      lsn: formatLsn(taken.lsn),
      serverVersion: taken.serverVersion,
      log: {
        topic: position.topic,
        partition: position.partition,
        offset: position.offset.toString(),
        truncatePartition: position.truncatePartition,
        truncateOffset: position.truncateOffset.toString(),
      },
      tables: copied.map((t) => ({
        schema: t.schema,
        table: t.table,
        objectKey: t.objectKey,
        rows: t.rows?.toString() ?? null,
        sizeBytes: t.sizeBytes,
        sha256: t.sha256,
        definition: t.definition,
      })),
      createdBy: request.createdBy,
    };
    written.push(manifestKey);
    const stored = await ctx.store.put(manifestKey, encodeManifest(manifest, ctx.encryptWith), {
      contentType: ctx.encryptWith ? 'application/octet-stream' : 'application/json',
    });
    // Every object is stored; only now does the catalog call the snapshot completed.
    await completeSnapshot(ctx.catalog, id, {
      xids: taken.xids,
      lsn: taken.lsn,
      takenAt: taken.takenAt,
      tables: copied,
      manifestKey,
      manifestSha256: stored.sha256,
      manifestSize: stored.size,
    });
    const result: SnapshotResult = {
      id,
      tenant: request.tenant,
      kind: request.kind,
      takenAt: taken.takenAt,
      xids: taken.xids,
      lsn: taken.lsn,
      log: position,
      tables: copied,
      rows: copied.reduce((n, t) => n + (t.rows ?? 0n), 0n),
      sizeBytes: copied.reduce((n, t) => n + (t.sizeBytes ?? 0), stored.size),
      manifestKey,
      expiresAt,
      durationMs: ctx.clock.nowMs() - startedMs,
    };
    log.info(
      { snapshot: id, rows: result.rows.toString(), bytes: result.sizeBytes },
      'snapshot completed',
    );
    return result;
  } catch (e) {
    // Closing the connection rolls the transaction back, even in the middle of a COPY.
    broken = true;
    await failSnapshot(ctx.catalog, id, describeError(e)).catch((failure: unknown) =>
      log.warn({ err: failure }, 'could not mark the snapshot failed'),
    );
    await ctx.store.deleteMany(written).catch(() => undefined);
    log.warn({ err: e, snapshot: id }, 'snapshot failed');
    throw e;
  } finally {
    session.release(broken);
  }
}
