/**
 * A schedule does the work, not only the queuing: a `snapshot` schedule due in a few
 * seconds is fired by the scheduler, its job is run by a worker, and the base snapshot it
 * took is listed among the tenant's backups, holding the tenant's rows.
 */
import { z } from 'zod';

import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';
import { waitFor } from '../../support/wait-for.js';

import { apiClient, bodyOf, startApi, token } from './harness.js';

const jobsList = z.object({
  jobs: z.array(
    z.object({
      id: z.string(),
      status: z.string(),
      scheduleId: z.string().nullable(),
      result: z.unknown(),
    }),
  ),
});

describe('control API: a scheduled job runs', () => {
  test(
    'a snapshot schedule fires, a worker runs its job, and the backup is there',
    { timeout: 120_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const fixtures = { source, catalog, kafka, s3, config, log };
      const env = await restoreEnvironment(fixtures);
      const stack = await startApi(fixtures, { workers: 1, schedulerIntervalMs: 200 });
      const api = apiClient(stack.api.url);
      try {
        const admin = await token('admin', 'ta');
        await source.exec(
          `INSERT INTO accounts SELECT g, 'ta', 'account ' || g, 'pro' FROM generate_series(1, 7) g`,
        );
        const fire = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3000);
        const cron = `${fire.getUTCSeconds()} ${fire.getUTCMinutes()} ${fire.getUTCHours()} ${fire.getUTCDate()} ${fire.getUTCMonth() + 1} *`;
        const created = await api.call('POST', '/v1/schedules', {
          token: admin,
          json: { name: 'nightly-ish', cron, timezone: 'UTC', jobType: 'snapshot' },
        });
        expect(created.status, created.text).toBe(201);
        const scheduleId = bodyOf(created, z.object({ schedule: z.object({ id: z.string() }) }))
          .schedule.id;

        const job = await waitFor(
          async () => {
            const { jobs } = bodyOf(
              await api.call('GET', '/v1/jobs', { token: admin, query: { type: 'snapshot' } }),
              jobsList,
            );
            const done = jobs.find((j) => j.scheduleId === scheduleId);
            return done && (done.status === 'completed' || done.status === 'failed')
              ? done
              : undefined;
          },
          { timeoutMs: 60_000, what: 'the scheduled snapshot job to finish' },
        );
        expect(job.status, JSON.stringify(job)).toBe('completed');
        const { snapshotId, rows } = z
          .object({ snapshotId: z.string(), rows: z.string() })
          .parse(job.result);
        expect(rows).toBe('7');
        const backup = await api.call('GET', `/v1/backups/${snapshotId}`, { token: admin });
        expect(backup.status, backup.text).toBe(200);
        expect(backup.body).toMatchObject({ backup: { id: snapshotId, status: 'completed' } });
        expect(api.statuses.filter((s) => s >= 500)).toEqual([]);
      } finally {
        await stack.stop();
        await env.close();
      }
    },
  );
});
