/**
 * DR tests through the control API, never simulated: a `full` test of a healthy tenant
 * verifies every stored object, restores the tenant at the latest instant into a scratch
 * schema, compares it table by table with the live rows and passes, measuring the RTO
 * against the plan's; a `deep` test adds the foreign keys and an earlier instant restored
 * through two base snapshots. After one byte of a stored snapshot object is flipped (through the
 * object-storage port), the same test fails and its issues name that object. Scratch
 * schemas are dropped either way.
 */
import { z } from 'zod';

import { listSnapshotTables } from '../../../shared/catalog/snapshot-tables.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';

import { apiClient, awaitJob, bodyOf, startApi, token, pickJob } from './harness.js';

const drTestShape = z.object({
  drTest: z.object({
    status: z.enum(['queued', 'running', 'passed', 'failed']),
    validationLevel: z.string(),
    measuredRtoSeconds: z.number().nullable(),
    planRtoMinutes: z.number().nullable(),
    rtoMet: z.boolean().nullable(),
    validationsPassed: z.number(),
    issuesFound: z.number(),
    issues: z.array(z.string()),
    report: z.record(z.string(), z.unknown()),
  }),
});

describe('control API: DR tests', () => {
  test(
    'a full DR test passes on a healthy tenant and, after a stored object is corrupted, fails naming it',
    { timeout: 300_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const fixtures = { source, catalog, kafka, s3, config, log };
      const env = await restoreEnvironment(fixtures);
      const stack = await startApi(fixtures, { workers: 1 });
      const api = apiClient(stack.api.url);
      try {
        const admin = await token('admin', 'ta');
        await source.exec(`
          INSERT INTO accounts SELECT g, 'ta', 'account ' || g, 'pro' FROM generate_series(1, 8) g;
          INSERT INTO documents SELECT 100 + g, 'ta', 1 + (g % 8), 'doc ' || g, repeat('x', g), NULL FROM generate_series(1, 40) g;
          INSERT INTO accounts VALUES (500, 'tb', 'other tenant', 'free');`);
        const backup = await env.snapshotter.take({
          tenant: 'ta',
          kind: 'full',
          createdBy: 'test',
        });
        // Changes after the backup: the restore replays them from the log.
        await source.exec(`
          UPDATE documents SET title = 'changed' WHERE tenant_id = 'ta' AND id % 4 = 0;
          DELETE FROM documents WHERE tenant_id = 'ta' AND id % 9 = 0;
          INSERT INTO notes VALUES (1, 'ta', 101, 'new note');`);

        const plan = bodyOf(
          await api.call('POST', '/v1/dr-plans', {
            token: admin,
            json: {
              name: 'gold',
              rtoMinutes: 30,
              rpoMinutes: 5,
              backupFrequency: '0 * * * *',
              testFrequency: '0 4 * * 1',
              retentionDays: 30,
            },
          }),
          z.object({ drPlan: z.object({ id: z.uuid(), nextTestAt: z.string() }) }),
        ).drPlan;

        const runTest = async (testName: string, validationLevel = 'full') => {
          const queued = await api.call('POST', '/v1/dr-tests', {
            token: admin,
            json: { testName, drPlanId: plan.id, validationLevel },
          });
          expect(queued.status, queued.text).toBe(202);
          const { jobId } = bodyOf(queued, z.object({ jobId: z.uuid() }));
          const { job } = await awaitJob(api, admin, `/v1/jobs/${jobId}`, pickJob, 120_000);
          expect(job.status, JSON.stringify(job.error)).toBe('completed');
          return bodyOf(
            await api.call('GET', `/v1/dr-tests/${jobId}`, { token: admin }),
            drTestShape,
          ).drTest;
        };
        const scratchSchemas = async () =>
          (
            await source.pool.query(
              `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bt_drtest_%'`,
            )
          ).rowCount;

        const healthy = await runTest('healthy');
        expect(healthy.issues).toEqual([]);
        expect(healthy.status).toBe('passed');
        expect(healthy.validationLevel).toBe('full');
        expect(healthy.report).toMatchObject({ tablesCompared: 3 });
        // Stored objects (3 tables + manifest) verified, 3 tables compared.
        expect(healthy.validationsPassed).toBeGreaterThanOrEqual(7);
        expect(healthy.measuredRtoSeconds).toBeGreaterThan(0);
        expect(healthy.planRtoMinutes).toBe(30);
        expect(healthy.rtoMet).toBe(true);
        expect(await scratchSchemas()).toBe(0);

        // deep: also the live foreign keys on the scratch copy, and an earlier instant
        // restored through two base snapshots (a second one is taken for it).
        await env.snapshotter.take({ tenant: 'ta', kind: 'full', createdBy: 'test' });
        await source.exec(`UPDATE accounts SET plan = 'team' WHERE tenant_id = 'ta' AND id <= 3`);
        const deep = await runTest('deep', 'deep');
        expect(deep.issues).toEqual([]);
        expect(deep.status).toBe('passed');
        expect(deep.validationLevel).toBe('deep');
        expect(deep.report).toMatchObject({
          foreignKeysChecked: expect.any(Number) as unknown,
          earlierInstant: expect.any(String) as unknown,
        });
        expect(Number(deep.report.foreignKeysChecked)).toBeGreaterThan(0);
        expect(deep.validationsPassed).toBeGreaterThan(healthy.validationsPassed);
        expect(await scratchSchemas()).toBe(0);

        // One flipped byte in the stored rows of `documents`.
        const tables = await listSnapshotTables(catalog.pool, backup.id);
        const key = tables.find((t) => t.table === 'documents')?.objectKey;
        if (!key) throw new Error('the backup has no documents object');
        const bytes = await s3.store.get(key);
        const middle = Math.floor(bytes.length / 2);
        bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
        await s3.store.put(key, bytes);

        const corrupted = await runTest('after corruption');
        expect(corrupted.status).toBe('failed');
        expect(corrupted.issuesFound).toBe(corrupted.issues.length);
        expect(corrupted.issues.filter((issue) => issue.includes(key))).not.toEqual([]);
        expect(corrupted.issues.join('\n')).toMatch(/corrupt/);
        expect(await scratchSchemas()).toBe(0);

        const list = bodyOf(
          await api.call('GET', '/v1/dr-tests', { token: admin, query: { drPlanId: plan.id } }),
          z.object({ drTests: z.array(z.object({ status: z.string() })) }),
        );
        expect(list.drTests.map((t) => t.status)).toEqual(['failed', 'passed', 'passed']);
        expect(api.statuses.filter((s) => s >= 500)).toEqual([]);
      } finally {
        await stack.stop();
        await env.close();
      }
    },
  );
});
