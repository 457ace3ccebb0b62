/**
 * The health score reflects what happened, part by part: a tenant with nothing backed up
 * scores 0 and is told what to do; one successful backup earns success rate (40), recency
 * (30) and storage efficiency (10); an enabled schedule that is not due yet completes the
 * score with schedule compliance (20). Capture's lag is reported from the real slot.
 */
import { z } from 'zod';

import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';

import { apiClient, awaitJob, bodyOf, startApi, token, pickJob } from './harness.js';

const part = z.object({ points: z.number(), max: z.number() });
const health = z.object({
  score: z.number(),
  parts: z.object({
    successRate: part,
    recency: part,
    scheduleCompliance: part,
    storageEfficiency: part,
  }),
  lag: z.object({ slotActive: z.boolean().nullable(), slotLagBytes: z.number().nullable() }),
  recommendations: z.array(z.string()),
});

describe('control API: health', () => {
  test(
    'the score follows backups and schedules, part by part',
    { timeout: 120_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const fixtures = { source, catalog, kafka, s3, config, log };
      const env = await restoreEnvironment(fixtures);
      const stack = await startApi(fixtures, { workers: 1 });
      const api = apiClient(stack.api.url);
      try {
        const admin = await token('admin', 'ta');
        await source.exec(
          `INSERT INTO accounts SELECT g, 'ta', 'account ' || g, 'pro' FROM generate_series(1, 4) g`,
        );
        const scoreNow = async () =>
          bodyOf(await api.call('GET', '/v1/health', { token: admin }), health);
        const points = (h: z.infer<typeof health>) =>
          Object.fromEntries(Object.entries(h.parts).map(([name, p]) => [name, p.points]));

        const empty = await scoreNow();
        expect(empty.score).toBe(0);
        expect(points(empty)).toEqual({
          successRate: 0,
          recency: 0,
          scheduleCompliance: 0,
          storageEfficiency: 0,
        });
        expect(empty.recommendations.length).toBeGreaterThan(0);
        expect(empty.lag.slotActive).toBe(true);

        const queued = await api.call('POST', '/v1/backups', { token: admin, json: {} });
        expect(queued.status, queued.text).toBe(202);
        const { jobId } = bodyOf(queued, z.object({ jobId: z.string() }));
        const { job } = await awaitJob(api, admin, `/v1/jobs/${jobId}`, pickJob);
        expect(job.status, JSON.stringify(job.error)).toBe('completed');

        const backedUp = await scoreNow();
        expect(points(backedUp)).toEqual({
          successRate: 40,
          recency: 30,
          scheduleCompliance: 0,
          storageEfficiency: 10,
        });
        expect(backedUp.score).toBe(80);

        // Daily at 03:00 UTC, created now: not due yet within the period.
        const schedule = await api.call('POST', '/v1/schedules', {
          token: admin,
          json: { name: 'daily', cron: '0 3 * * *', timezone: 'UTC', jobType: 'snapshot' },
        });
        expect(schedule.status, schedule.text).toBe(201);
        const scheduled = await scoreNow();
        expect(scheduled.parts.scheduleCompliance.points).toBe(20);
        expect(scheduled.score).toBe(100);
        expect(api.statuses.filter((s) => s >= 500)).toEqual([]);
      } finally {
        await stack.stop();
        await env.close();
      }
    },
  );
});
