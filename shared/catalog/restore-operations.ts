/**
 * `backtrack.restore_operations`: every restore and rollback, started and finished.
 */
import { z } from 'zod';

import type { Queryable } from '../pg/index.js';

import { int4, int8, parseRows } from './columns.js';

/** A restore or rollback as it starts. */
export interface NewRestoreOperation {
  readonly id: string;
  readonly tenant: string;
  readonly kind: 'restore' | 'rollback';
  readonly mode: 'schema' | 'in-place';
  readonly target: string;
  readonly targetSchema: string | undefined;
  readonly tables: readonly string[] | undefined;
  readonly dryRun: boolean;
  readonly rollbackOfSnapshotId: string | undefined;
  readonly reason: string | undefined;
  readonly actor: string;
}

/** How it ended. */
export type RestoreOutcome =
  | {
      readonly status: 'completed';
      readonly baseSnapshotId: string;
      readonly preRestoreSnapshotId: string | undefined;
      readonly tablesRestored: number;
      readonly rowsRestored: number;
      readonly eventsReplayed: number;
      readonly summary: unknown;
    }
  | { readonly status: 'failed'; readonly errorCode: string; readonly error: string };

/** A recorded operation. */
export interface RestoreOperation {
  readonly id: string;
  readonly tenant: string;
  readonly kind: 'restore' | 'rollback';
  readonly mode: 'schema' | 'in-place';
  readonly target: string;
  readonly targetSchema: string | null;
  readonly tables: readonly string[] | null;
  readonly dryRun: boolean;
  readonly status: 'running' | 'completed' | 'failed' | 'abandoned';
  readonly baseSnapshotId: string | null;
  readonly preRestoreSnapshotId: string | null;
  readonly rollbackOfSnapshotId: string | null;
  readonly reason: string | null;
  readonly actor: string;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  readonly tablesRestored: number | null;
  readonly rowsRestored: bigint | null;
  readonly eventsReplayed: bigint | null;
  readonly errorCode: string | null;
  readonly error: string | null;
}

const operationRow = z
  .object({
    id: z.string(),
    tenant_id: z.string(),
    kind: z.enum(['restore', 'rollback']),
    mode: z.enum(['schema', 'in-place']),
    target: z.string(),
    target_schema: z.string().nullable(),
    tables: z.array(z.string()).nullable(),
    dry_run: z.boolean(),
    status: z.enum(['running', 'completed', 'failed', 'abandoned']),
    base_snapshot_id: z.string().nullable(),
    pre_restore_snapshot_id: z.string().nullable(),
    rollback_of_snapshot_id: z.string().nullable(),
    reason: z.string().nullable(),
    actor: z.string(),
    started_at: z.date(),
    finished_at: z.date().nullable(),
    tables_restored: int4.nullable(),
    rows_restored: int8.nullable(),
    events_replayed: int8.nullable(),
    error_code: z.string().nullable(),
    error: z.string().nullable(),
  })
  .transform((r): RestoreOperation => ({
    id: r.id,
    tenant: r.tenant_id,
    kind: r.kind,
    mode: r.mode,
    target: r.target,
    targetSchema: r.target_schema,
    tables: r.tables,
    dryRun: r.dry_run,
    status: r.status,
    baseSnapshotId: r.base_snapshot_id,
    preRestoreSnapshotId: r.pre_restore_snapshot_id,
    rollbackOfSnapshotId: r.rollback_of_snapshot_id,
    reason: r.reason,
    actor: r.actor,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    tablesRestored: r.tables_restored,
    rowsRestored: r.rows_restored,
    eventsReplayed: r.events_replayed,
    errorCode: r.error_code,
    error: r.error,
  }));

const COLUMNS = `id::text AS id, tenant_id, kind, mode, target, target_schema, tables, dry_run, status,
  base_snapshot_id::text AS base_snapshot_id, pre_restore_snapshot_id::text AS pre_restore_snapshot_id,
  rollback_of_snapshot_id::text AS rollback_of_snapshot_id, reason, actor, started_at, finished_at,
  tables_restored, rows_restored, events_replayed, error_code, error`;

/**
 * Records an operation as running. Operations of the tenant still marked running belong to
 * a process that died (the caller holds the tenant's restore lock): they become abandoned.
 */
export async function startRestoreOperation(db: Queryable, op: NewRestoreOperation): Promise<void> {
  await db.query(
    `UPDATE backtrack.restore_operations
        SET status = 'abandoned', finished_at = now(), error = 'the process running it ended before it finished'
      WHERE tenant_id = $1 AND status = 'running' AND NOT dry_run`,
    [op.tenant],
  );
  await db.query(
    `INSERT INTO backtrack.restore_operations
       (id, tenant_id, kind, mode, target, target_schema, tables, dry_run, status, rollback_of_snapshot_id, reason, actor)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'running', $9, $10, $11)`,
    [
      op.id,
      op.tenant,
      op.kind,
      op.mode,
      op.target,
      op.targetSchema ?? null,
      op.tables ? [...op.tables] : null,
      op.dryRun,
      op.rollbackOfSnapshotId ?? null,
      op.reason ?? null,
      op.actor,
    ],
  );
}

/** Records how an operation ended. */
export async function finishRestoreOperation(
  db: Queryable,
  id: string,
  outcome: RestoreOutcome,
): Promise<void> {
  if (outcome.status === 'completed') {
    await db.query(
      `UPDATE backtrack.restore_operations
          SET status = 'completed', finished_at = now(), base_snapshot_id = $2, pre_restore_snapshot_id = $3,
              tables_restored = $4, rows_restored = $5, events_replayed = $6, summary = $7
        WHERE id = $1`,
      [
        id,
        outcome.baseSnapshotId,
        outcome.preRestoreSnapshotId ?? null,
        outcome.tablesRestored,
        outcome.rowsRestored,
        outcome.eventsReplayed,
        JSON.stringify(outcome.summary, (_k, v: unknown) =>
          typeof v === 'bigint' ? v.toString() : v,
        ),
      ],
    );
  } else {
    await db.query(
      `UPDATE backtrack.restore_operations SET status = 'failed', finished_at = now(), error_code = $2, error = $3 WHERE id = $1`,
      [id, outcome.errorCode, outcome.error],
    );
  }
}

/** Which operations to list. */
export interface RestoreOperationFilter {
  readonly tenant?: string;
  readonly kind?: 'restore' | 'rollback';
  readonly limit?: number;
}

/** Operations, newest first. */
export async function listRestoreOperations(
  db: Queryable,
  filter: RestoreOperationFilter = {},
): Promise<RestoreOperation[]> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.restore_operations
      WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR kind = $2)
      ORDER BY started_at DESC LIMIT $3`,
    [filter.tenant ?? null, filter.kind ?? null, filter.limit ?? 50],
  );
  return parseRows('listRestoreOperations', operationRow, result.rows);
}

/** One operation, or undefined. */
export async function findRestoreOperation(
  db: Queryable,
  id: string,
): Promise<RestoreOperation | undefined> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.restore_operations WHERE id = $1::uuid`,
    [id],
  );
  return parseRows('findRestoreOperation', operationRow, result.rows)[0];
}
