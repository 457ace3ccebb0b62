/**
 * A point-in-time restore through the control API, on the real stack: a backup taken
 * with POST /v1/backups (a job), an accident, a dry run of the in-place restore (the
 * engine's preview), the confirmed restore as a job whose progress is visible while it
 * runs, the tenant exactly as it was at T, then a rollback (dry run, then confirmed) that
 * gives back the tenant exactly as before the restore. Other tenants never change.
 */
import { z } from 'zod';

import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';

import { apiClient, awaitJob, bodyOf, type JobSeen, startApi, token } from './harness.js';

const jobShape = z.object({
  status: z.string(),
  progress: z.unknown(),
  result: z.unknown(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  attempts: z.number(),
});
const pick =
  (key: 'job' | 'restore' | 'rollback') =>
  (body: unknown): JobSeen =>
    z.object({ [key]: jobShape }).parse(body)[key] as JobSeen;
const accepted = z.object({ success: z.literal(true), jobId: z.uuid(), location: z.string() });
const tableStats = z.object({
  table: z.string(),
  rowsAtTarget: z.number(),
  rowsNow: z.number(),
  inserts: z.number(),
  updates: z.number(),
  deletes: z.number(),
});
const preview = z.object({
  dryRun: z.literal(true),
  preview: z.object({
    mode: z.literal('in-place'),
    dryRun: z.literal(true),
    tables: z.array(tableStats),
    stats: z.object({ totalOperations: z.number(), affectedTables: z.array(z.string()) }),
    preRestoreSnapshotId: z.null(),
  }),
});
const progressShape = z.object({
  phase: z.string(),
  tablesDone: z.number(),
  tablesTotal: z.number(),
  rowsDone: z.number(),
  rowsTotal: z.number(),
});

describe('control API: point-in-time restore', () => {
  test(
    'dry run, confirmed in-place restore, rollback: the tenant is exactly as expected at each step',
    { timeout: 300_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const fixtures = { source, catalog, kafka, s3, config, log };
      const env = await restoreEnvironment(fixtures);
      const stack = await startApi(fixtures, { workers: 1 });
      const api = apiClient(stack.api.url);
      try {
        const admin = await token('admin', 'ta');
        const operator = await token('operator', 'ta');
        for (const [t, tenant] of ['ta', 'tb'].entries()) {
          const base = (t + 1) * 1000;
          await source.exec(`
            INSERT INTO accounts SELECT ${base} + g, '${tenant}', 'account ' || g, 'pro' FROM generate_series(1, 10) g;
            INSERT INTO documents SELECT ${base} + 100 + g, '${tenant}', ${base} + 1 + (g % 10), 'doc ' || g, 'body', jsonb_build_object('g', g)
              FROM generate_series(1, 30) g;
            INSERT INTO notes SELECT ${base} + 500 + g, '${tenant}', ${base} + 100 + g, 'note ' || g FROM generate_series(1, 5) g;`);
        }

        // The base snapshot, through the API: a job a worker runs.
        const backup = bodyOf(
          await api.call('POST', '/v1/backups', { token: operator, json: { label: 'before' } }),
          accepted,
        );
        const backupJob = await awaitJob(api, operator, `/v1/jobs/${backup.jobId}`, pick('job'));
        expect(backupJob.job.status, JSON.stringify(backupJob.job.error)).toBe('completed');

        // By backup id, a restore lands on the backup's own instant, to the microsecond.
        const listed = bodyOf(
          await api.call('GET', '/v1/backups', { token: operator }),
          z.object({
            backups: z.array(
              z.object({ id: z.uuid(), label: z.string().nullable(), takenAt: z.string() }),
            ),
          }),
        ).backups.find((b) => b.label === 'before');
        expect(listed?.takenAt).toMatch(/\.\d{6}Z$/);
        const byBackup = bodyOf(
          await api.call('POST', '/v1/restores', {
            token: operator,
            json: { backupId: listed?.id, inPlace: true, dryRun: true },
          }),
          z.object({
            preview: z.object({
              target: z.string(),
              baseSnapshot: z.object({ id: z.string() }),
              tables: z.array(tableStats),
            }),
          }),
        ).preview;
        expect(byBackup.target).toBe(listed?.takenAt);
        expect(byBackup.baseSnapshot.id).toBe(listed?.id);
        expect(
          Object.fromEntries(byBackup.tables.map((t) => [t.table.split('.')[1], t.rowsAtTarget])),
        ).toEqual({ accounts: 10, documents: 30, notes: 5 });
        await env.snapshotter.take({ tenant: 'tb', kind: 'full', createdBy: 'test' });

        await source.exec(`
          UPDATE documents SET title = 'edited' WHERE tenant_id = 'ta' AND id % 3 = 0;
          DELETE FROM notes WHERE tenant_id = 'ta' AND id % 2 = 0;
          INSERT INTO notes VALUES (1999, 'ta', NULL, 'after the backup');`);
        const target = await env.now();
        const truth = await env.state('ta');

        // The accident.
        await source.exec(`
          DELETE FROM documents WHERE tenant_id = 'ta';
          UPDATE accounts SET name = 'oops' WHERE tenant_id = 'ta';`);
        const afterAccident = await env.state('ta');
        const tbBefore = await env.digest('tb');

        // 1. Dry run: the engine's preview, nothing written.
        const dry = bodyOf(
          await api.call('POST', '/v1/restores', {
            token: operator,
            json: { targetTimestamp: target, inPlace: true, dryRun: true },
          }),
          preview,
        );
        const byTable = new Map(dry.preview.tables.map((t) => [t.table.split('.')[1], t]));
        for (const table of ['accounts', 'documents', 'notes'] as const) {
          expect(byTable.get(table)?.rowsAtTarget, table).toBe(truth[table]?.length);
          expect(byTable.get(table)?.rowsNow, table).toBe(afterAccident[table]?.length);
        }
        expect(byTable.get('documents')?.inserts).toBe(truth.documents?.length);
        expect(byTable.get('accounts')?.updates).toBe(10);
        expect(dry.preview.stats.affectedTables.map((t) => t.split('.')[1]).sort()).toEqual([
          'accounts',
          'documents',
        ]);
        expect(await env.state('ta')).toEqual(afterAccident);

        // 2. An operator may preview but not replace live rows; an admin confirms.
        const refused = await api.call('POST', '/v1/restores', {
          token: operator,
          json: { targetTimestamp: target, inPlace: true, confirmRestore: true },
        });
        expect(refused.status).toBe(403);
        expect(refused.body).toMatchObject({ error: { code: 'INSUFFICIENT_PERMISSIONS' } });
        const queued = await api.call('POST', '/v1/restores', {
          token: admin,
          json: { targetTimestamp: target, inPlace: true, confirmRestore: true },
        });
        expect(queued.status, queued.text).toBe(202);
        const restore = bodyOf(queued, accepted);
        expect(queued.headers.get('location')).toBe(`/v1/restores/${restore.jobId}`);
        const { job, seen } = await awaitJob(api, admin, restore.location, pick('restore'));
        expect(job.status, JSON.stringify(job.error)).toBe('completed');
        expect(job.attempts).toBe(1);
        // Progress was recorded as the job ran: the last report is the engine's `done`.
        const finalProgress = progressShape.parse(job.progress);
        expect(finalProgress.phase).toBe('done');
        expect(finalProgress.tablesDone).toBe(3);
        expect(finalProgress.rowsDone).toBe(finalProgress.rowsTotal);
        const statuses = [...new Set(seen.map((s) => s.status))];
        expect(['queued', 'running', 'completed']).toEqual(expect.arrayContaining(statuses));
        expect(statuses.at(-1)).toBe('completed');

        expect(await env.state('ta')).toEqual(truth);
        expect(await env.digest('tb')).toBe(tbBefore);

        const shown = bodyOf(
          await api.call('GET', restore.location, { token: admin }),
          z.object({ preRestoreSnapshotId: z.uuid() }),
        );
        const result = z
          .object({ rowsRestored: z.number(), stats: z.object({ insertCount: z.number() }) })
          .parse(job.result);
        expect(result.rowsRestored).toBe(Object.values(truth).reduce((n, r) => n + r.length, 0));
        const snapshots = bodyOf(
          await api.call('GET', '/v1/snapshots', { token: operator }),
          z.object({ snapshots: z.array(z.object({ id: z.string(), rolledBack: z.boolean() })) }),
        );
        expect(snapshots.snapshots).toEqual([
          expect.objectContaining({ id: shown.preRestoreSnapshotId, rolledBack: false }),
        ]);

        // 3. Rollback: preview, then confirmed; the tenant is as it was before the restore.
        const rollbackPreview = await api.call('POST', '/v1/rollbacks', {
          token: operator,
          json: { snapshotId: shown.preRestoreSnapshotId, dryRun: true },
        });
        expect(rollbackPreview.status, rollbackPreview.text).toBe(200);
        expect(await env.state('ta')).toEqual(truth);
        const rollback = bodyOf(
          await api.call('POST', '/v1/rollbacks', {
            token: admin,
            json: {
              snapshotId: shown.preRestoreSnapshotId,
              confirmRollback: true,
              reason: 'wrong instant',
            },
          }),
          accepted,
        );
        const rolled = await awaitJob(api, admin, rollback.location, pick('rollback'));
        expect(rolled.job.status, JSON.stringify(rolled.job.error)).toBe('completed');
        expect(await env.state('ta')).toEqual(afterAccident);
        expect(await env.digest('tb')).toBe(tbBefore);

        const history = bodyOf(
          await api.call('GET', '/v1/rollbacks', { token: operator }),
          z.object({
            rollbacks: z.array(
              z.object({
                snapshotId: z.string().nullable(),
                reason: z.string().nullable(),
                actor: z.string(),
                status: z.string(),
                dryRun: z.boolean(),
              }),
            ),
          }),
        );
        expect(history.rollbacks.filter((r) => !r.dryRun)).toEqual([
          {
            snapshotId: shown.preRestoreSnapshotId,
            reason: 'wrong instant',
            actor: 'admin:admin-user',
            status: 'completed',
            dryRun: false,
          },
        ]);
        expect(api.statuses.filter((s) => s >= 500)).toEqual([]);
      } finally {
        await stack.stop();
        await env.close();
      }
    },
  );
});
