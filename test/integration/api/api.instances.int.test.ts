/**
 * Two control API instances on one catalog, as a deployment with two replicas runs them:
 *   - rate limits are counted in the catalog, so they hold across both instances (also
 *     under concurrent requests), per tenant and per endpoint bucket, with
 *     X-RateLimit-Limit/-Remaining/-Reset on every answer and Retry-After on a 429;
 *   - one scheduler leads (advisory lock): a schedule due in a few seconds produces exactly
 *     one job, a stretch of missed runs is caught up by one job, and when the leader stops
 *     the other instance takes over.
 */
import { z } from 'zod';

import type { ApiStack } from '../../../services/cli/api.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait-for.js';

import { type ApiResponse, apiClient, bodyOf, startApi, token } from './harness.js';

const header = (response: ApiResponse, name: string): number => {
  const value = response.headers.get(name);
  if (value === null) throw new Error(`no ${name} header on ${response.status} ${response.text}`);
  return Number(value);
};

const jobsList = z.object({
  jobs: z.array(
    z.object({
      id: z.string(),
      type: z.string(),
      status: z.string(),
      scheduleId: z.string().nullable(),
      createdBy: z.string(),
    }),
  ),
});

describe('control API: two instances on one catalog', () => {
  test('rate limits hold across instances, per tenant and bucket, with correct headers', async ({
    source,
    catalog,
    kafka,
    s3,
    config,
    log,
  }) => {
    const fixtures = { source, catalog, kafka, s3, config, log };
    const options = { workers: 0, rateLimits: { 'backup-create': 3 }, rateWindowSeconds: 3600 };
    const stacks = [await startApi(fixtures, options), await startApi(fixtures, options)];
    try {
      const [a, b] = stacks.map((s) => apiClient(s.api.url));
      if (!a || !b) throw new Error('two instances');
      // A fixed window can end between two requests; then the run is repeated once.
      let attempt = 0;
      for (;;) {
        const tenant = `tenant-${attempt}`;
        const operator = await token('operator', tenant);
        const answers: ApiResponse[] = [];
        for (let i = 0; i < 5; i++)
          answers.push(
            await (i % 2 === 0 ? a : b).call('POST', '/v1/backups', { token: operator, json: {} }),
          );
        const resets = new Set(answers.map((r) => header(r, 'x-ratelimit-reset')));
        if (resets.size > 1 && attempt === 0) {
          attempt += 1;
          continue;
        }
        expect(answers.map((r) => r.status)).toEqual([202, 202, 202, 429, 429]);
        expect(answers.map((r) => header(r, 'x-ratelimit-remaining'))).toEqual([2, 1, 0, 0, 0]);
        expect(answers.every((r) => header(r, 'x-ratelimit-limit') === 3)).toBe(true);
        const [reset] = [...resets];
        const nowSeconds = Date.now() / 1000;
        expect(reset).toBeDefined();
        expect((reset ?? 0) % 3600).toBe(0);
        expect(reset).toBeGreaterThan(nowSeconds);
        expect(reset).toBeLessThanOrEqual(nowSeconds + 3600 + 1);
        for (const refused of answers.slice(3)) {
          const retryAfter = header(refused, 'retry-after');
          expect(Math.abs(retryAfter - ((reset ?? 0) - nowSeconds))).toBeLessThanOrEqual(2);
          expect(refused.body).toMatchObject({
            success: false,
            error: {
              code: 'RATE_LIMIT_EXCEEDED',
              details: { bucket: 'backup-create', limit: 3, retryAfter },
            },
          });
        }
        for (const accepted of answers.slice(0, 3))
          expect(accepted.headers.get('retry-after')).toBeNull();
        // Refused requests queued nothing.
        const jobs = bodyOf(await b.call('GET', '/v1/jobs', { token: operator }), jobsList);
        expect(jobs.jobs).toHaveLength(3);
        // Another bucket of the same tenant, and another tenant, have their own counts.
        const drTest = await a.call('POST', '/v1/dr-tests', {
          token: operator,
          json: { testName: 'x' },
        });
        expect(drTest.status).toBe(202);
        expect(header(drTest, 'x-ratelimit-remaining')).toBe(19);
        const other = await b.call('POST', '/v1/backups', {
          token: await token('operator', `other-${attempt}`),
          json: {},
        });
        expect(other.status).toBe(202);
        expect(header(other, 'x-ratelimit-remaining')).toBe(2);
        break;
      }

      // Twelve concurrent requests of one tenant over both instances: exactly three pass.
      const burst = await token('operator', 'burst');
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 === 0 ? a : b).call('POST', '/v1/backups', { token: burst, json: {} }),
        ),
      );
      const accepted = answers.filter((r) => r.status === 202);
      expect(answers.filter((r) => r.status !== 202 && r.status !== 429)).toEqual([]);
      // Exactly three, unless the window ended during the burst (then each window has its own).
      if (new Set(answers.map((r) => header(r, 'x-ratelimit-reset'))).size === 1) {
        expect(accepted).toHaveLength(3);
        expect(accepted.map((r) => header(r, 'x-ratelimit-remaining')).sort()).toEqual([0, 1, 2]);
      }
      expect([...a.statuses, ...b.statuses].filter((s) => s >= 500)).toEqual([]);
    } finally {
      for (const stack of stacks) await stack.stop();
    }
  });

  test(
    'a schedule due in a few seconds makes exactly one job with two schedulers; missed runs catch up once; the other takes over',
    { timeout: 120_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const fixtures = { source, catalog, kafka, s3, config, log };
      const options = { workers: 0, schedulerIntervalMs: 200 };
      const stacks: ApiStack[] = [
        await startApi(fixtures, { ...options, owner: 'instance-a' }),
        await startApi(fixtures, { ...options, owner: 'instance-b' }),
      ];
      const [first, second] = stacks;
      if (!first || !second) throw new Error('two instances');
      try {
        const api = apiClient(first.api.url);
        const admin = await token('admin', 'ta');
        await waitFor(() => first.scheduler.isLeader() !== second.scheduler.isLeader(), {
          timeoutMs: 10_000,
          what: 'one scheduler to lead',
        });

        // A cron with seconds that fires once, about four seconds from now (UTC).
        const fire = new Date(Math.ceil(Date.now() / 1000) * 1000 + 4000);
        const cron = `${fire.getUTCSeconds()} ${fire.getUTCMinutes()} ${fire.getUTCHours()} ${fire.getUTCDate()} ${fire.getUTCMonth() + 1} *`;
        const created = await api.call('POST', '/v1/schedules', {
          token: admin,
          json: { name: 'soon', cron, timezone: 'UTC', jobType: 'verify' },
        });
        expect(created.status, created.text).toBe(201);
        const schedule = bodyOf(
          created,
          z.object({ schedule: z.object({ id: z.string(), nextRunAt: z.string() }) }),
        ).schedule;
        expect(schedule.nextRunAt).toBe(fire.toISOString());

        const listJobs = async () =>
          bodyOf(
            await api.call('GET', '/v1/jobs', { token: admin, query: { type: 'verify' } }),
            jobsList,
          ).jobs;
        const jobs = await waitFor(
          async () => ((await listJobs()).length > 0 ? listJobs() : undefined),
          {
            timeoutMs: 20_000,
            what: 'the scheduled job',
          },
        );
        // Both schedulers keep ticking: still exactly one job.
        for (let i = 0; i < 5; i++)
          await Promise.all([first.scheduler.tick(), second.scheduler.tick()]);
        expect(await listJobs()).toEqual(jobs);
        expect(jobs).toEqual([
          expect.objectContaining({
            scheduleId: schedule.id,
            createdBy: 'scheduler:soon',
            status: 'queued',
          }),
        ]);
        const after = bodyOf(
          await api.call('GET', `/v1/schedules/${schedule.id}`, { token: admin }),
          z.object({
            schedule: z.object({
              lastJobId: z.string().nullable(),
              lastRunAt: z.string().nullable(),
              nextRunAt: z.string().nullable(),
            }),
          }),
        ).schedule;
        expect(after.lastJobId).toBe(jobs[0]?.id);
        expect(after.lastRunAt).not.toBeNull();
        expect(Date.parse(after.nextRunAt ?? '')).toBeGreaterThan(Date.now() + 86_400_000);

        // Missed runs (the schedulers were down for three days of a daily schedule) are
        // caught up by one job, and the next run is in the future.
        const daily = bodyOf(
          await api.call('POST', '/v1/schedules', {
            token: admin,
            json: { name: 'daily', cron: '0 3 * * *', jobType: 'compaction', enabled: false },
          }),
          z.object({ schedule: z.object({ id: z.string() }) }),
        ).schedule;
        await catalog.pool.query(
          `UPDATE backtrack.schedules SET enabled = true, next_run_at = now() - interval '3 days' WHERE id = $1`,
          [daily.id],
        );
        const compactions = async () =>
          bodyOf(
            await api.call('GET', '/v1/jobs', { token: admin, query: { type: 'compaction' } }),
            jobsList,
          ).jobs;
        await waitFor(async () => (await compactions()).length > 0, {
          timeoutMs: 10_000,
          what: 'the catch-up job',
        });
        for (let i = 0; i < 3; i++)
          await Promise.all([first.scheduler.tick(), second.scheduler.tick()]);
        expect(await compactions()).toHaveLength(1);
        const caughtUp = bodyOf(
          await api.call('GET', `/v1/schedules/${daily.id}`, { token: admin }),
          z.object({ schedule: z.object({ nextRunAt: z.string() }) }),
        ).schedule;
        expect(Date.parse(caughtUp.nextRunAt)).toBeGreaterThan(Date.now());

        // The leader stops; the other instance leads from its next tick.
        const [leader, follower] = first.scheduler.isLeader() ? [first, second] : [second, first];
        await leader.stop();
        await follower.scheduler.tick();
        expect(follower.scheduler.isLeader()).toBe(true);
      } finally {
        for (const stack of stacks) await stack.stop();
      }
    },
  );
});
