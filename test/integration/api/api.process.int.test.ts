/**
 * The control API as processes, the way operators run it:
 *   - `backtrack api` whose worker is killed (SIGKILL) in the middle of an in-place restore
 *     leaves the tenant exactly as it was and the job retryable; a second `backtrack api`
 *     claims the job once its lease expired and finishes it; SIGTERM stops that process
 *     cleanly with exit status 0;
 *   - `backtrack run` runs capture, the archiver and the API in one process: a backup taken
 *     through the API completes, the archive reaches the restore points, SIGTERM exits 0.
 */
import { z } from 'zod';

import { listRestoreOperations } from '../../../shared/catalog/restore-operations.js';
import { oracleSchemaSql } from '../../oracle/workload.js';
import { archiveEnvironment } from '../../support/archive.js';
import { type BacktrackProcess, setupSource, spawnBacktrack } from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';
import { waitFor } from '../../support/wait-for.js';

import { apiClient, awaitJob, bodyOf, JWT_SECRET, startApi, token, pickJob } from './harness.js';

const API_ENV = {
  BACKTRACK_API_JWT_SECRET: JWT_SECRET,
  BACKTRACK_API_PORT: '0',
  BACKTRACK_WORKER_CONCURRENCY: '1',
  BACKTRACK_WORKER_LEASE_MS: '2000',
  BACKTRACK_WORKER_POLL_MS: '100',
  BACKTRACK_SCHEDULER_INTERVAL_MS: '3600000',
  BACKTRACK_LOG_LEVEL: 'warn',
};

/** The URL the process printed once its API listened. */
function listeningUrl(child: BacktrackProcess): Promise<string> {
  return waitFor(() => /(?:listening on|API on) (http:\/\/[0-9.:]+)/.exec(child.output())?.[1], {
    timeoutMs: 60_000,
    what: `the API of process ${child.pid} to listen`,
  });
}

describe('control API: processes', () => {
  test(
    'a worker killed mid-restore leaves the tenant untouched and the job retryable; another process finishes it; SIGTERM exits 0',
    { timeout: 300_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const fixtures = { source, catalog, kafka, s3, config, log };
      const env = await restoreEnvironment(fixtures);
      // This instance only queues and reads jobs; the processes run them.
      const front = await startApi(fixtures, { workers: 0 });
      const api = apiClient(front.api.url);
      const children: BacktrackProcess[] = [];
      try {
        const admin = await token('admin', 'ta');
        for (const [t, tenant] of ['ta', 'tb'].entries())
          await source.exec(`
            INSERT INTO accounts SELECT ${(t + 1) * 100} + g, '${tenant}', 'account ' || g, 'pro' FROM generate_series(1, 10) g;
            INSERT INTO notes SELECT ${(t + 1) * 100} + g, '${tenant}', NULL, 'note ' || g FROM generate_series(1, 20) g;`);
        await env.snapshotter.take({ tenant: 'ta', kind: 'full', createdBy: 'test' });
        await source.exec(`UPDATE notes SET note = 'edited' WHERE tenant_id = 'ta' AND id % 2 = 0`);
        const target = await env.now();
        const truth = await env.state('ta');
        await source.exec(`DELETE FROM notes WHERE tenant_id = 'ta'`);
        const before = { ta: await env.digest('ta'), tb: await env.digest('tb') };

        const queued = await api.call('POST', '/v1/restores', {
          token: admin,
          json: { targetTimestamp: target, inPlace: true, confirmRestore: true },
        });
        expect(queued.status, queued.text).toBe(202);
        const { jobId } = bodyOf(queued, z.object({ jobId: z.uuid() }));

        // The first process dies right after deleting the tenant's rows, before loading.
        const doomed = spawnBacktrack(
          ['api'],
          env.processEnvironment({ ...API_ENV, BACKTRACK_FAILPOINTS: 'restore.after-deleted' }),
        );
        children.push(doomed);
        expect(await doomed.exited, doomed.output()).toBe('SIGKILL');
        expect(await env.digest('ta')).toBe(before.ta);
        expect(await env.digest('tb')).toBe(before.tb);
        const orphaned = pickJob(
          (await api.call('GET', `/v1/jobs/${jobId}`, { token: admin })).body,
        );
        expect(orphaned).toMatchObject({ status: 'running', attempts: 1 });

        // Another process takes the job over once the dead worker's lease expired.
        const rescuer = spawnBacktrack(['api'], env.processEnvironment(API_ENV));
        children.push(rescuer);
        const rescuerUrl = await listeningUrl(rescuer);
        expect((await fetch(`${rescuerUrl}/readyz`)).status).toBe(200);
        const { job } = await awaitJob(api, admin, `/v1/jobs/${jobId}`, pickJob, 120_000);
        expect(job.status, JSON.stringify(job.error)).toBe('completed');
        expect(job.attempts).toBe(2);
        expect(await env.state('ta')).toEqual(truth);
        expect(await env.digest('tb')).toBe(before.tb);
        const operations = await listRestoreOperations(catalog.pool, { tenant: 'ta' });
        expect(operations.map((o) => o.status).sort()).toEqual(['abandoned', 'completed']);

        rescuer.kill('SIGTERM');
        expect(await rescuer.exited, rescuer.output()).toBe(0);
      } finally {
        for (const child of children) child.kill('SIGKILL');
        await front.stop();
        await env.close();
      }
    },
  );

  test(
    '`backtrack run`: capture, archiver and API in one process; a backup through the API; SIGTERM exits 0',
    { timeout: 180_000 },
    async ({ source, catalog, kafka, s3, config }) => {
      await source.pool.query(oracleSchemaSql(source.schema));
      await setupSource(source);
      const child = spawnBacktrack(
        ['run'],
        archiveEnvironment(source, { config, kafka, s3, catalog }, API_ENV),
      );
      try {
        const api = apiClient(await listeningUrl(child));
        const operator = await token('operator', 'ta');
        await source.exec(
          `INSERT INTO accounts SELECT g, 'ta', 'account ' || g, 'pro' FROM generate_series(1, 25) g`,
        );
        const backup = bodyOf(
          await api.call('POST', '/v1/backups', { token: operator, json: {} }),
          z.object({ jobId: z.uuid() }),
        );
        const { job } = await awaitJob(api, operator, `/v1/jobs/${backup.jobId}`, pickJob);
        expect(job.status, JSON.stringify(job.error)).toBe('completed');
        expect(job.result).toMatchObject({ rows: '25' });
        await source.exec(`UPDATE accounts SET plan = 'team' WHERE tenant_id = 'ta' AND id < 5`);
        // The archiver of the same process stores the change: the window reaches it.
        const points = await waitFor(
          async () => {
            const response = await api.call('GET', '/v1/restore-points', { token: operator });
            const body = bodyOf(
              response,
              z.object({ segments: z.number(), latest: z.string().nullable() }),
            );
            return body.segments > 0 && body.latest !== null ? body : undefined;
          },
          { timeoutMs: 60_000, what: 'an archived segment of ta' },
        );
        expect(points.segments).toBeGreaterThan(0);
      } finally {
        child.kill('SIGTERM');
      }
      expect(await child.exited, child.output()).toBe(0);
    },
  );
});
