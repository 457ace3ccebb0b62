/**
 * What each job type does, given its row: parameters narrowed with zod (a job row is
 * outside data too), then one engine call. Progress goes to the worker's reporter.
 */
import { z } from 'zod';

import { DR_TEST_TYPES, VALIDATION_LEVELS } from '../../shared/catalog/dr-tests.js';
import type { Job } from '../../shared/catalog/jobs.js';
import { BacktrackError } from '../../shared/errors.js';

import { type DrTestDeps, runDrTest } from './dr-test.js';
import type { EngineProgress } from './engines.js';
import { restoreSummaryView } from './restore-view.js';

/** Reports progress of a running job (JSON). */
export type ProgressReporter = (progress: Record<string, unknown>) => void;

const snapshotParams = z.object({
  kind: z.enum(['full', 'schema']).default('full'),
  label: z.string().optional(),
});
const restoreParams = z.object({
  target: z.string(),
  tables: z.array(z.string()).optional(),
  mode: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('schema'), schema: z.string() }),
    z.object({ kind: z.literal('in-place'), confirm: z.boolean() }),
  ]),
});
const rollbackParams = z.object({ snapshotId: z.string(), reason: z.string().optional() });
const drTestParams = z.object({
  drPlanId: z.string().optional(),
  backupId: z.string().optional(),
  testName: z.string(),
  testType: z.enum(DR_TEST_TYPES).default('manual'),
  validationLevel: z.enum(VALIDATION_LEVELS).default('basic'),
});

function parse<S extends z.ZodType>(job: Job, schema: S): z.output<S> {
  const parsed = schema.safeParse(job.params);
  if (!parsed.success)
    throw new BacktrackError(
      'VALIDATION_FAILED',
      `job ${job.id} (${job.type}) has parameters it cannot run: ${parsed.error.message}`,
    );
  return parsed.data;
}

const engineProgress = (report: ProgressReporter) => (p: EngineProgress) =>
  report({
    phase: p.phase,
    tablesDone: p.tablesDone,
    tablesTotal: p.tablesTotal,
    rowsDone: p.rowsDone,
    rowsTotal: p.rowsTotal,
    etaSeconds: p.etaSeconds ?? null,
  });

/** Runs `job`; returns its result (JSON) or throws why it failed. */
export async function runJob(
  deps: DrTestDeps,
  job: Job,
  report: ProgressReporter,
): Promise<unknown> {
  const { engines } = deps;
  switch (job.type) {
    case 'snapshot': {
      const p = parse(job, snapshotParams);
      report({ phase: 'snapshot' });
      const s = await engines.snapshot({
        tenant: job.tenant,
        kind: p.kind,
        createdBy: job.createdBy,
        label: p.label,
      });
      return {
        snapshotId: s.id,
        takenAt: s.takenAt,
        rows: s.rows.toString(),
        sizeBytes: s.sizeBytes,
      };
    }
    case 'restore': {
      const p = parse(job, restoreParams);
      const summary = await engines.restore({
        tenant: job.tenant,
        target: p.target,
        tables: p.tables,
        mode: p.mode,
        dryRun: false,
        actor: job.createdBy,
        onProgress: engineProgress(report),
      });
      return restoreSummaryView(summary);
    }
    case 'rollback': {
      const p = parse(job, rollbackParams);
      const summary = await engines.rollback({
        snapshotId: p.snapshotId,
        confirm: true,
        dryRun: false,
        reason: p.reason,
        actor: job.createdBy,
        onProgress: engineProgress(report),
      });
      return restoreSummaryView(summary);
    }
    case 'verify': {
      report({ phase: 'verify' });
      const r = await engines.verify(job.tenant);
      const bad = r.objects.filter((o) => o.status !== 'ok');
      if (bad.length > 0 || r.gaps.length > 0) {
        throw new BacktrackError(
          'INTEGRITY_FAILED',
          `${bad.length} stored object(s) of tenant ${job.tenant} are not ok${
            bad.length > 0
              ? `: ${bad
                  .slice(0, 5)
                  .map((o) => `${o.key} (${o.status}: ${o.problems.join('; ')})`)
                  .join(', ')}`
              : ''
          }${r.gaps.length > 0 ? `; ${r.gaps.length} gap(s) in the archive` : ''}`,
          {
            details: {
              objects: bad.map((o) => ({ key: o.key, status: o.status, problems: o.problems })),
              gaps: r.gaps,
            },
          },
        );
      }
      return { ok: true, objects: r.objects.length };
    }
    case 'dr-test': {
      const p = parse(job, drTestParams);
      const result = await runDrTest(deps, {
        id: job.id,
        tenant: job.tenant,
        drPlanId: p.drPlanId,
        backupId: p.backupId,
        testName: p.testName,
        testType: p.testType,
        validationLevel: p.validationLevel,
        createdBy: job.createdBy,
        onProgress: (step, progress) =>
          report({
            phase: step,
            ...(progress
              ? { restore: { ...progress, etaSeconds: progress.etaSeconds ?? null } }
              : {}),
          }),
      });
      return { drTestId: job.id, ...result };
    }
    case 'compaction':
      report({ phase: 'compaction' });
      return engines.compact(job.tenant);
  }
}
