/** How a restore summary looks in API answers (dry-run previews and job results). */
import { z } from 'zod';

import type { EngineRestoreSummary } from './engines.js';

/** The JSON of a restore summary. */
export const restoreSummarySchema = z.object({
  operationId: z.string(),
  target: z.string(),
  mode: z.enum(['schema', 'in-place']),
  targetSchema: z.string().nullable(),
  dryRun: z.boolean(),
  baseSnapshot: z.object({
    id: z.string(),
    takenAt: z.string().nullable(),
    /** `census`: a tenant census that found the tenant with no rows (an empty base). */
    kind: z.enum(['snapshot', 'census']),
  }),
  replayed: z.object({
    events: z.number(),
    from: z.string().nullable(),
    to: z.string().nullable(),
  }),
  stats: z.object({
    totalOperations: z.number().int(),
    insertCount: z.number().int(),
    updateCount: z.number().int(),
    deleteCount: z.number().int(),
    affectedTables: z.array(z.string()),
  }),
  tables: z.array(
    z.object({
      table: z.string(),
      rowsAtTarget: z.number(),
      rowsNow: z.number(),
      inserts: z.number(),
      updates: z.number(),
      deletes: z.number(),
    }),
  ),
  rowsRestored: z.number().int(),
  preRestoreSnapshotId: z.string().nullable(),
  warnings: z.array(z.string()),
  durationMs: z.number(),
});

/** The view of a summary (also what a restore job stores as its result). */
export function restoreSummaryView(s: EngineRestoreSummary): z.infer<typeof restoreSummarySchema> {
  const tables = s.tables.map((t) => ({
    table: t.table,
    rowsAtTarget: t.rowsAtTarget,
    rowsNow: t.rowsNow,
    inserts: t.inserts,
    updates: t.updates,
    deletes: t.deletes,
  }));
  const sum = (pick: (t: (typeof tables)[number]) => number): number =>
    tables.reduce((n, t) => n + pick(t), 0);
  const insertCount = sum((t) => t.inserts);
  const updateCount = sum((t) => t.updates);
  const deleteCount = sum((t) => t.deletes);
  return {
    operationId: s.id,
    target: s.target,
    mode: s.mode,
    targetSchema: s.targetSchema ?? null,
    dryRun: s.dryRun,
    baseSnapshot: { id: s.snapshot.id, takenAt: s.snapshot.takenAt, kind: s.snapshot.kind },
    replayed: { events: s.replayed.events, from: s.replayed.from, to: s.replayed.to },
    stats: {
      totalOperations: insertCount + updateCount + deleteCount,
      insertCount,
      updateCount,
      deleteCount,
      affectedTables: tables
        .filter((t) => t.inserts + t.updates + t.deletes > 0)
        .map((t) => t.table),
    },
    tables,
    rowsRestored: s.restored.reduce((n, t) => n + t.loaded.rows, 0),
    preRestoreSnapshotId: s.preRestoreSnapshotId ?? null,
    warnings: [...s.warnings],
    durationMs: s.durationMs,
  };
}
