/**
 * A restore of one tenant to instant T, as a list of steps:
 *   1. check the request (target, mode, confirmation, target schema) before any work;
 *   2. hold the tenant's restore lock in the catalog (one restore or rollback at a time);
 *   3. plan: snapshot, log, tables (plan.ts);
 *   4. fold the snapshot and the log into the rows as of T (fold.ts), spilling to disk
 *      past the memory budget (bounded-fold.ts);
 *   5. dry run: compare with the live rows and stop (preview.ts);
 *   6. in place: take a pre_restore snapshot of the tenant, then replace its rows in one
 *      transaction (in-place.ts); into a schema: create and load it in one transaction
 *      (into-schema.ts). Both verify every table before committing.
 */
import { randomUUID } from 'node:crypto';

import { isVisibleInSnapshot } from '../../shared/archive/alignment.js';
import type { Keyring } from '../../shared/archive/encryption.js';
import { requireSnapshot } from '../../shared/catalog/base-snapshots.js';
import {
  finishRestoreOperation,
  type NewRestoreOperation,
  startRestoreOperation,
} from '../../shared/catalog/restore-operations.js';
import { listSnapshotTables } from '../../shared/catalog/snapshot-tables.js';
import type { Clock } from '../../shared/clock.js';
import { BacktrackError, describeError, isBacktrackError } from '../../shared/errors.js';
import { type ChangeEvent, txlogTopic } from '../../shared/events/index.js';
import type { KafkaPort } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging.js';
import type { PgPool, PgSession } from '../../shared/pg/index.js';
import type { ObjectStore } from '../../shared/s3/index.js';
import { isDdlHistoryEvent, parseDdlEvent } from '../../shared/source/ddl-history.js';
import { checkTargetSchema } from '../../shared/source/restore-schema.js';

import { BoundedFold } from './bounded-fold.js';
import { tableKey } from './fold.js';
import { restoreInPlace, type RestoredTable } from './in-place.js';
import { restoreIntoSchema } from './into-schema.js';
import type { LogReached } from './log-reach.js';
import { planRestore, type RestorePlan } from './plan.js';
import { previewTables, type TablePreview } from './preview.js';
import { ReadAhead, readLog } from './read-log.js';
import { loadSnapshot } from './read-snapshot.js';
import { withRetypedValues } from './retyped.js';
import { formatInstant, parseTarget } from './target.js';

/** Where the restored rows go. */
export type RestoreMode =
  | { readonly kind: 'schema'; readonly schema: string }
  | { readonly kind: 'in-place'; readonly confirm: boolean };

/** A restore to run. */
export interface RestoreRequest {
  readonly tenant: string;
  /** ISO-8601 instant with a zone, or an LSN. */
  readonly target: string;
  readonly tables?: readonly string[];
  readonly mode: RestoreMode;
  readonly dryRun: boolean;
  /** Who asked, for the record. */
  readonly actor: string;
  /** Told how far the restore got. */
  readonly onProgress?: (progress: RestoreProgress) => void;
}

/** How far a restore got. */
export interface RestoreProgress {
  readonly phase:
    'plan' | 'snapshot' | 'log' | 'preview' | 'pre-restore snapshot' | 'load' | 'done';
  readonly tablesDone: number;
  readonly tablesTotal: number;
  readonly rowsDone: number;
  readonly rowsTotal: number;
  /** Estimated seconds left in the load, once it can be told. */
  readonly etaSeconds: number | undefined;
}

/** What a restore did. */
export interface RestoreSummary {
  readonly id: string;
  readonly tenant: string;
  readonly target: string;
  readonly mode: RestoreMode['kind'];
  readonly targetSchema: string | undefined;
  readonly dryRun: boolean;
  /** The base: a snapshot, or a tenant census that found the tenant with no rows. */
  readonly snapshot: {
    readonly id: string;
    readonly takenAt: string | null;
    readonly kind: 'snapshot' | 'census';
  };
  readonly replayed: {
    readonly events: number;
    readonly from: string | null;
    readonly to: string | null;
  };
  readonly tables: readonly TablePreview[];
  readonly restored: readonly RestoredTable[];
  readonly preRestoreSnapshotId: string | undefined;
  readonly warnings: readonly string[];
  /** When the fold outgrew its memory budget: partitions folded and bytes spilled. */
  readonly spill: { readonly partitions: number; readonly bytes: number } | null;
  /** Milliseconds spent in each phase (snapshot, log, preview, pre-restore snapshot, load). */
  readonly phasesMs: Readonly<Record<string, number>>;
  readonly durationMs: number;
}

/** What the restore engine needs. */
export interface RestoreDeps {
  readonly source: PgPool;
  readonly catalog: PgPool;
  readonly kafka: KafkaPort;
  readonly archive: ObjectStore;
  readonly claims: ObjectStore;
  readonly keyring: Keyring;
  readonly slot: string;
  readonly tenantColumn: string;
  readonly topicPrefix: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** Takes a pre_restore snapshot of the tenant and returns its id (the snapshotter). */
  readonly takePreRestoreSnapshot: (tenant: string, createdBy: string) => Promise<string>;
  /** How long to wait for capture to reach a recent target (ms). */
  readonly captureWaitMs?: number;
  /** How far the log was seen to reach by earlier restores of this engine. */
  readonly reached?: LogReached;
  /** Rows the fold holds in memory before it spills (estimated bytes; default 256 MiB). */
  readonly memoryBytes?: number;
  /** Where spill files go (default: the OS temp folder). */
  readonly tempDir?: string;
  /** Kills the process at a named point (tests); nothing by default. */
  readonly failpoint?: (name: string) => void;
}

/** The fold's memory budget when none is configured. */
export const DEFAULT_RESTORE_MEMORY_BYTES = 256 * 1024 * 1024;

/** Points at which tests may kill a restore (BACKTRACK_FAILPOINTS). */
export const RESTORE_FAILPOINTS = {
  afterPreRestoreSnapshot: 'restore.after-pre-restore-snapshot',
  afterDelete: 'restore.after-deleted',
  afterLoad: 'restore.after-loaded',
  afterVerify: 'restore.after-verified',
} as const;

/** Holds the tenant's restore lock in the catalog for the duration of `work`. */
export async function withTenantLock<T>(
  catalog: PgPool,
  tenant: string,
  work: () => Promise<T>,
): Promise<T> {
  const session: PgSession = await catalog.connect();
  let locked = false;
  try {
    const result = await session.query(
      `SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked`,
      [`backtrack:tenant-restore:${tenant}`],
    );
    locked = result.rows[0]?.locked === true;
    if (!locked) {
      throw new BacktrackError(
        'RESTORE_IN_PROGRESS',
        `tenant ${tenant} is being restored or rolled back by another operation; wait for it to finish`,
        { details: { tenant } },
      );
    }
    return await work();
  } finally {
    if (locked)
      await session
        .query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [
          `backtrack:tenant-restore:${tenant}`,
        ])
        .catch(() => undefined);
    session.release();
  }
}

/** Checks what can be checked before any work; throws VALIDATION_FAILED. */
async function checkRequest(deps: RestoreDeps, request: RestoreRequest): Promise<void> {
  if (request.mode.kind === 'in-place' && !request.mode.confirm && !request.dryRun) {
    throw new BacktrackError(
      'VALIDATION_FAILED',
      `an in-place restore replaces tenant ${request.tenant}'s live rows: add --confirm (and try --dry-run first), or restore into a new schema with --target-schema`,
    );
  }
  if (request.mode.kind === 'schema') await checkTargetSchema(deps.source, request.mode.schema);
}

/** Whether an event touches one of the tables of a partial restore (a DDL: by either name). */
function concerns(only: ReadonlySet<string>, event: ChangeEvent): boolean {
  if (!isDdlHistoryEvent(event)) return only.has(tableKey(event.schema, event.table));
  if (event.op !== 'insert') return false;
  const change = parseDdlEvent(event);
  return (
    only.has(tableKey(change.schema, change.table)) ||
    (change.previous !== null && only.has(tableKey(change.previous.schema, change.previous.table)))
  );
}

/** Folds the plan's snapshot and log into the tenant's rows as of the target. */
async function foldPlan(
  deps: RestoreDeps,
  plan: RestorePlan,
  report: (phase: RestoreProgress['phase']) => void,
): Promise<BoundedFold> {
  const xids = plan.snapshot.xids;
  if (!xids)
    throw new BacktrackError(
      'INTEGRITY_FAILED',
      `snapshot ${plan.snapshot.id} has no transaction snapshot recorded`,
    );
  const fold = new BoundedFold({
    tenant: plan.tenant,
    visibleInSnapshot: (xid) => isVisibleInSnapshot(xid, xids),
    target:
      plan.target.kind === 'time'
        ? { commitTimeUs: plan.target.us }
        : { commitLsn: plan.target.lsn },
    memoryBytes: deps.memoryBytes ?? DEFAULT_RESTORE_MEMORY_BYTES,
    tempDir: deps.tempDir,
  });
  const sources = {
    kafka: deps.kafka,
    archive: deps.archive,
    claims: deps.claims,
    keyring: deps.keyring,
  };
  // The Kafka tails are read while the snapshot loads.
  const ahead = new ReadAhead(plan, sources);
  try {
    report('snapshot');
    await loadSnapshot(plan, deps.archive, deps.keyring, fold);
    report('log');
    await readLog(
      plan,
      sources,
      (event) => {
        if (plan.only && !concerns(plan.only, event)) return;
        fold.apply(event);
      },
      ahead,
    );
    fold.finish();
    return fold;
  } catch (error) {
    fold.close();
    throw error;
  } finally {
    ahead.cancel();
  }
}

/** How a planned restore is carried out. */
interface Execution {
  readonly id: string;
  readonly tenant: string;
  readonly mode: RestoreMode;
  readonly dryRun: boolean;
  readonly onProgress?: (progress: RestoreProgress) => void;
  /** Who the pre_restore snapshot is taken for (`restore:<id>`, `rollback:<id>`). */
  readonly createdBy: string;
}

/** Folds, previews and (unless a dry run) applies a plan. */
async function execute(
  deps: RestoreDeps,
  plan: RestorePlan,
  run: Execution,
): Promise<RestoreSummary> {
  const started = deps.clock.nowMs();
  const log = deps.log.child({ component: 'restore', tenant: run.tenant, restore: run.id });
  let rowsTotal = 0;
  let rowsDone = 0;
  let tablesDone = 0;
  let tablesTotal = 0;
  let loadStarted = 0;
  const phasesMs: Record<string, number> = {};
  let phaseNow: { phase: string; since: number } | undefined;
  const report = (phase: RestoreProgress['phase']): void => {
    if (phaseNow?.phase !== phase) {
      const now = deps.clock.nowMs();
      if (phaseNow)
        phasesMs[phaseNow.phase] = (phasesMs[phaseNow.phase] ?? 0) + now - phaseNow.since;
      phaseNow = { phase, since: now };
    }
    const elapsed = (deps.clock.nowMs() - loadStarted) / 1000;
    const etaSeconds =
      phase === 'load' && rowsDone > 0 ? ((rowsTotal - rowsDone) * elapsed) / rowsDone : undefined;
    run.onProgress?.({ phase, tablesDone, tablesTotal, rowsDone, rowsTotal, etaSeconds });
  };

  const fold = await foldPlan(deps, plan, report);
  try {
    const tables = fold
      .tableNames()
      .filter((t) => !plan.only || plan.only.has(t))
      .sort();
    tablesTotal = tables.length;
    rowsTotal = tables.reduce((n, t) => n + fold.rowCount(t), 0);
    report('preview');
    // Values written before an ALTER … TYPE, as the column's type as of T reads them.
    const rows = await withRetypedValues(deps.source, fold, tables);
    const previews = await previewTables(deps.source, rows, tables, run.tenant, deps.tenantColumn);
    const warnings = [...plan.warnings, ...fold.ddlWarnings()];
    for (const table of tables) {
      const anomalies = fold.activity(table).anomalies;
      if (anomalies > 0) {
        warnings.push(
          `${table}: ${anomalies} change(s) touched rows the log had not shown before (a sign of missing history)`,
        );
      }
    }

    let restored: RestoredTable[] = [];
    let preRestoreSnapshotId: string | undefined;
    if (!run.dryRun) {
      const current = { table: '', rows: 0 };
      const onRows = (table: string, rows: number): void => {
        if (table !== current.table) {
          if (current.table) tablesDone += 1;
          current.table = table;
          current.rows = 0;
        }
        rowsDone += rows - current.rows;
        current.rows = rows;
        report('load');
      };
      if (run.mode.kind === 'in-place') {
        report('pre-restore snapshot');
        preRestoreSnapshotId = await deps.takePreRestoreSnapshot(run.tenant, run.createdBy);
        deps.failpoint?.(RESTORE_FAILPOINTS.afterPreRestoreSnapshot);
        loadStarted = deps.clock.nowMs();
        restored = await restoreInPlace(
          {
            source: deps.source,
            tenant: run.tenant,
            tenantColumn: deps.tenantColumn,
            tag: `backtrack-${run.createdBy}`,
            log,
            onRows,
            pause: (step) => {
              deps.failpoint?.(`restore.after-${step}`);
              return Promise.resolve();
            },
          },
          rows,
          tables,
        );
      } else {
        loadStarted = deps.clock.nowMs();
        const result = await restoreIntoSchema(
          {
            source: deps.source,
            schema: run.mode.schema,
            definitions: new Map(plan.snapshotTables.map((t) => [tableKey(t.schema, t.table), t])),
            onRows,
          },
          rows,
          tables,
        );
        restored = result.tables;
        warnings.push(...result.warnings);
      }
      tablesDone = tables.length;
    }
    const replay = fold.replayed();
    const spill = fold.spillStats();
    if (spill.spilled) {
      log.info(
        { partitions: spill.partitions, bytes: spill.bytesWritten },
        'the fold outgrew its memory budget and spilled to disk',
      );
    }
    report('done');
    return {
      id: run.id,
      tenant: run.tenant,
      target: plan.target.text,
      mode: run.mode.kind,
      targetSchema: run.mode.kind === 'schema' ? run.mode.schema : undefined,
      dryRun: run.dryRun,
      snapshot: {
        id: plan.snapshot.id,
        takenAt: plan.snapshot.takenAtUs === null ? null : formatInstant(plan.snapshot.takenAtUs),
        kind: plan.base,
      },
      replayed: {
        events: replay.events,
        from: replay.fromUs === undefined ? null : formatInstant(replay.fromUs),
        to: replay.toUs === undefined ? null : formatInstant(replay.toUs),
      },
      tables: previews,
      restored,
      preRestoreSnapshotId,
      warnings,
      spill: spill.spilled ? { partitions: spill.partitions, bytes: spill.bytesWritten } : null,
      phasesMs,
      durationMs: deps.clock.nowMs() - started,
    };
  } finally {
    // Spill files are scratch: gone whether the restore succeeded or not.
    fold.close();
  }
}

/** Records `operation` in the catalog around `work`: running, then completed or failed. */
async function recorded(
  deps: RestoreDeps,
  operation: NewRestoreOperation,
  work: () => Promise<RestoreSummary>,
): Promise<RestoreSummary> {
  await startRestoreOperation(deps.catalog, operation);
  try {
    const summary = await work();
    await finishRestoreOperation(deps.catalog, operation.id, {
      status: 'completed',
      baseSnapshotId: summary.snapshot.id,
      preRestoreSnapshotId: summary.preRestoreSnapshotId,
      tablesRestored: summary.restored.length,
      rowsRestored: summary.restored.reduce((n, t) => n + t.loaded.rows, 0),
      eventsReplayed: summary.replayed.events,
      summary,
    });
    return summary;
  } catch (e) {
    await finishRestoreOperation(deps.catalog, operation.id, {
      status: 'failed',
      errorCode: isBacktrackError(e) ? e.code : 'INTERNAL',
      error: describeError(e),
    }).catch((failure: unknown) =>
      deps.log.warn({ err: failure }, 'could not record the failed restore'),
    );
    throw e;
  }
}

/** Runs a restore (or its dry run) and says what it did. */
export async function runRestore(
  deps: RestoreDeps,
  request: RestoreRequest,
): Promise<RestoreSummary> {
  const id = randomUUID();
  const target = parseTarget(request.target);
  await checkRequest(deps, request);
  const operation: NewRestoreOperation = {
    id,
    tenant: request.tenant,
    kind: 'restore',
    mode: request.mode.kind,
    target: target.text,
    targetSchema: request.mode.kind === 'schema' ? request.mode.schema : undefined,
    tables: request.tables,
    dryRun: request.dryRun,
    rollbackOfSnapshotId: undefined,
    reason: undefined,
    actor: request.actor,
  };
  const run = async (): Promise<RestoreSummary> => {
    request.onProgress?.({
      phase: 'plan',
      tablesDone: 0,
      tablesTotal: 0,
      rowsDone: 0,
      rowsTotal: 0,
      etaSeconds: undefined,
    });
    const plan = await planRestore(
      {
        catalog: deps.catalog,
        source: deps.source,
        kafka: deps.kafka,
        topicPrefix: deps.topicPrefix,
        txlogTopic: txlogTopic(deps.topicPrefix),
        slot: deps.slot,
        clock: deps.clock,
        waitMs: deps.captureWaitMs ?? 60_000,
        reached: deps.reached,
      },
      { tenant: request.tenant, target, tables: request.tables },
    );
    return execute(deps, plan, {
      id,
      tenant: request.tenant,
      mode: request.mode,
      dryRun: request.dryRun,
      onProgress: request.onProgress,
      createdBy: `restore:${id}`,
    });
  };
  return request.dryRun
    ? recorded(deps, operation, run)
    : withTenantLock(deps.catalog, request.tenant, () => recorded(deps, operation, run));
}

/** A rollback to run: back to the rows of a pre_restore snapshot. */
export interface RollbackRequest {
  readonly snapshotId: string;
  readonly confirm: boolean;
  readonly dryRun: boolean;
  readonly reason: string | undefined;
  readonly actor: string;
  readonly onProgress?: (progress: RestoreProgress) => void;
}

/**
 * Puts a tenant back as it was when a pre_restore snapshot was taken (before an in-place
 * restore): an in-place restore from that snapshot alone, itself preceded by a pre_restore
 * snapshot (so a rollback can be undone too).
 */
export async function runRollback(
  deps: RestoreDeps,
  request: RollbackRequest,
): Promise<RestoreSummary> {
  const snapshot = await requireSnapshot(deps.catalog, request.snapshotId);
  if (
    snapshot.kind !== 'pre_restore' ||
    snapshot.status !== 'completed' ||
    snapshot.takenAtUs === null
  ) {
    throw new BacktrackError(
      'SNAPSHOT_NOT_FOUND',
      `snapshot ${request.snapshotId} is not a completed pre-restore snapshot; \`backtrack snapshots --tenant ID\` lists the ones a rollback can use`,
      { details: { snapshotId: request.snapshotId, kind: snapshot.kind, status: snapshot.status } },
    );
  }
  if (snapshot.expiresAt !== null && snapshot.expiresAt.getTime() < deps.clock.nowMs()) {
    throw new BacktrackError(
      'SNAPSHOT_NOT_FOUND',
      `pre-restore snapshot ${snapshot.id} expired on ${snapshot.expiresAt.toISOString()}; roll back with a restore to an instant instead`,
    );
  }
  if (!request.confirm && !request.dryRun) {
    throw new BacktrackError(
      'VALIDATION_FAILED',
      `a rollback replaces tenant ${snapshot.tenant}'s live rows: add --confirm (and try --dry-run first)`,
    );
  }
  const id = randomUUID();
  const plan: RestorePlan = {
    tenant: snapshot.tenant,
    target: { kind: 'time', us: snapshot.takenAtUs, text: formatInstant(snapshot.takenAtUs) },
    snapshot,
    base: 'snapshot',
    snapshotTables: await listSnapshotTables(deps.catalog, snapshot.id),
    only: undefined,
    streams: [],
    warnings: [],
  };
  const run = (): Promise<RestoreSummary> =>
    execute(deps, plan, {
      id,
      tenant: snapshot.tenant,
      mode: { kind: 'in-place', confirm: true },
      dryRun: request.dryRun,
      onProgress: request.onProgress,
      createdBy: `rollback:${id}`,
    });
  const operation: NewRestoreOperation = {
    id,
    tenant: snapshot.tenant,
    kind: 'rollback',
    mode: 'in-place',
    target: plan.target.text,
    targetSchema: undefined,
    tables: undefined,
    dryRun: request.dryRun,
    rollbackOfSnapshotId: snapshot.id,
    reason: request.reason,
    actor: request.actor,
  };
  return request.dryRun
    ? recorded(deps, operation, run)
    : withTenantLock(deps.catalog, snapshot.tenant, () => recorded(deps, operation, run));
}
