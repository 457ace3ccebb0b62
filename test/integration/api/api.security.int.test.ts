/**
 * The findings of a probe of the control API, one test each, against the real catalog:
 * a mutating call whose audit entry cannot be written does not take effect; callers
 * without a valid token cannot write the audit log; text Postgres cannot store is a 400
 * (401 in a token); restore target schemas are checked at request time, in a namespace of
 * the tenant's own; the envelope holds for too-long parameters and bodies; a schedule
 * cannot name another tenant's DR plan nor fire every second; tokens have a maximum
 * lifetime; request ids are the server's; CSV exports neutralise formulas; and which
 * answers use up a rate-limit bucket.
 */
import { randomUUID } from 'node:crypto';

import { SignJWT } from 'jose';
import { z } from 'zod';

import type { ApiStack } from '../../../services/cli/api.js';
import { tenantSchemaPrefix } from '../../../shared/source/restore-schema.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';

import {
  type ApiClient,
  apiClient,
  type ApiFixtures,
  type ApiOptions,
  bodyOf,
  JWT_SECRET,
  startApi,
  token,
} from './harness.js';

const errorBody = z.object({
  success: z.literal(false),
  error: z.object({ code: z.string(), message: z.string() }),
});
const codeOf = (body: unknown): string => errorBody.parse(body).error.code;

/** A token with any claims, signed with the test secret. */
async function rawToken(claims: Record<string, unknown>, exp?: number): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  jwt.setExpirationTime(exp ?? Math.floor(Date.now() / 1000) + 600);
  return jwt.sign(new TextEncoder().encode(JWT_SECRET));
}

const schedule = { cron: '0 3 * * *', jobType: 'snapshot' } as const;
const plan = {
  name: 'gold',
  rtoMinutes: 60,
  rpoMinutes: 15,
  backupFrequency: '0 * * * *',
  testFrequency: '0 4 * * 1',
  retentionDays: 30,
};
const createdPlan = z.object({ drPlan: z.object({ id: z.uuid() }) });

async function createSchedule(api: ApiClient, admin: string, name: string): Promise<string> {
  const response = await api.call('POST', '/v1/schedules', {
    token: admin,
    json: { ...schedule, name },
  });
  const body = bodyOf(response, z.object({ schedule: z.object({ id: z.uuid() }) }));
  return body.schedule.id;
}

/** Runs `body` against an API on the test's fixtures (no workers: jobs stay queued), then stops it. */
async function withApi(
  fixtures: ApiFixtures,
  options: ApiOptions,
  body: (api: ApiClient, stack: ApiStack) => Promise<void>,
): Promise<void> {
  const stack = await startApi(fixtures, { workers: 0, ...options });
  try {
    await body(apiClient(stack.api.url), stack);
  } finally {
    await stack.stop();
  }
}

describe('control API: security findings', () => {
  test('a mutating call whose audit entry cannot be written does not take effect', async ({
    source,
    catalog,
    kafka,
    s3,
    config,
    log,
  }) => {
    await withApi({ source, catalog, kafka, s3, config, log }, {}, async (api) => {
      const admin = await token('admin', 'ta', { subject: 'alice' });
      const id = await createSchedule(api, admin, 'kept');
      // The audit log refuses this one action (a real failure of the INSERT in Postgres).
      await catalog.pool.query(`
        CREATE FUNCTION backtrack.refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit refused by the test'; END $$;
        CREATE TRIGGER refuse_delete_audit BEFORE INSERT ON backtrack.audit_log
          FOR EACH ROW WHEN (NEW.action = 'schedule.delete')
          EXECUTE FUNCTION backtrack.refuse_audit();`);
      try {
        const refused = await api.call('DELETE', `/v1/schedules/${id}`, { token: admin });
        expect(refused.status).toBe(503);
        expect(codeOf(refused.body)).toBe('AUDIT_UNAVAILABLE');
        // Nothing was done: the schedule is still there.
        expect((await api.call('GET', `/v1/schedules/${id}`, { token: admin })).status).toBe(200);
      } finally {
        await catalog.pool.query(
          'DROP TRIGGER refuse_delete_audit ON backtrack.audit_log; DROP FUNCTION backtrack.refuse_audit()',
        );
      }
      // With the log writable again the same call is done, written ahead and completed.
      const done = await api.call('DELETE', `/v1/schedules/${id}`, { token: admin });
      expect(done.status).toBe(200);
      const rows = await catalog.pool.query(
        `SELECT outcome, status_code, target FROM backtrack.audit_log WHERE request_id = $1`,
        [done.headers.get('x-request-id')],
      );
      expect(rows.rows).toEqual([{ outcome: 'success', status_code: 200, target: id }]);

      // A token whose sub holds NUL is refused before anything runs (it wrote unaudited).
      const nul = await rawToken({ sub: 'ad\u0000min', role: 'admin', tenant_id: 'ta' });
      const other = await createSchedule(api, admin, 'other');
      const withNul = await api.call('DELETE', `/v1/schedules/${other}`, { token: nul });
      expect(withNul.status).toBe(401);
      expect((await api.call('GET', `/v1/schedules/${other}`, { token: admin })).status).toBe(200);
    });
  });

  test('callers without a valid token write nothing to the audit log; they are counted', async ({
    source,
    catalog,
    kafka,
    s3,
    config,
    log,
  }) => {
    await withApi({ source, catalog, kafka, s3, config, log }, {}, async (api, stack) => {
      const count = async (): Promise<number> =>
        Number(
          (await catalog.pool.query('SELECT count(*)::int AS n FROM backtrack.audit_log')).rows[0]
            ?.n,
        );
      const before = await count();
      const long = `/v1/${'x'.repeat(15_000)}`;
      for (const [method, path] of [
        ['POST', long],
        ['DELETE', long],
        ['POST', '/v1/schedules'],
        ['DELETE', '/v1/schedules/00000000-0000-4000-8000-000000000000'],
        ['POST', '/v1/restores'],
      ] as const) {
        for (const bad of [
          undefined,
          'garbage',
          await token('admin', 'ta', { secret: 'x'.repeat(40) }),
        ]) {
          const response = await api.call(method, path, { token: bad, json: {} });
          expect([401, 404], `${method} ${path.slice(0, 40)}`).toContain(response.status);
          expect(errorBody.safeParse(response.body).success).toBe(true);
          expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
        }
      }
      expect(await count()).toBe(before);
      const metrics = await (await fetch(`${stack.api.url}/metrics`)).text();
      const refused = [...metrics.matchAll(/^backtrack_api_auth_failures_total\{[^}]*\} (\d+)/gm)]
        .map((m) => Number(m[1]))
        .reduce((a, b) => a + b, 0);
      expect(refused).toBeGreaterThanOrEqual(9);
    });
  });

  test('NUL and lone surrogates anywhere are 400, in token claims 401, never 500', async ({
    source,
    catalog,
    kafka,
    s3,
    config,
    log,
  }) => {
    await withApi({ source, catalog, kafka, s3, config, log }, {}, async (api) => {
      const admin = await token('admin', 'ta');
      const operator = await token('operator', 'ta');
      const planId = bodyOf(
        await api.call('POST', '/v1/dr-plans', { token: admin, json: plan }),
        createdPlan,
      ).drPlan.id;
      const cases: [string, string, Parameters<ApiClient['call']>[2]][] = [
        ['POST', '/v1/backups', { token: operator, json: { label: 'x\ud800' } }],
        ['POST', '/v1/backups', { token: operator, json: { label: 'x\u0000' } }],
        ['POST', '/v1/dr-tests', { token: operator, json: { testName: '\udfff' } }],
        [
          'POST',
          '/v1/schedules',
          {
            token: admin,
            json: { ...schedule, name: 's', jobType: 'dr-test', params: { testName: 'a\ud800b' } },
          },
        ],
        [
          'POST',
          '/v1/schedules',
          { token: admin, json: { ...schedule, name: 's', ['k\u0000']: 1 } },
        ],
        ['GET', '/v1/audit', { token: admin, query: { actor: 'a\u0000' } }],
        ['GET', '/v1/audit', { token: admin, query: { action: '\u0000' } }],

        ['PATCH', `/v1/dr-plans/${planId}`, { token: admin, json: { name: '\ud800' } }],
      ];
      for (const [method, path, request] of cases) {
        const response = await api.call(method, path, request);
        expect(
          response.status,
          `${method} ${path} ${JSON.stringify(request?.json ?? request?.query)}`,
        ).toBe(400);
        expect(codeOf(response.body)).toBe('VALIDATION_FAILED');
      }
      for (const claims of [
        { sub: 'a\u0000', role: 'admin', tenant_id: 'ta' },
        { sub: 'a', role: 'admin', tenant_id: 't\u0000a' },
        { sub: 'a\ud800', role: 'admin', tenant_id: 'ta' },
        { sub: 'a', role: 'admin', tenant_id: '\udfffta' },
      ]) {
        const response = await api.call('GET', '/v1/schedules', { token: await rawToken(claims) });
        expect(response.status, JSON.stringify(claims)).toBe(401);
      }
      const platform = await token('platform-admin', undefined);
      // (A URL cannot carry a lone surrogate: percent-encoding is UTF-8.)
      for (const tenant of ['t\u0000a', 't\u0001a']) {
        const response = await api.call('GET', '/v1/schedules', {
          token: platform,
          query: { tenant },
        });
        expect(response.status, JSON.stringify(tenant)).toBe(400);
      }
      expect(api.statuses.filter((s) => s >= 500)).toEqual([]);
    });
  });

  test(
    'restore target schemas: reserved and existing names refused at request time, a namespace per tenant',
    { timeout: 120_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const fixtures = { source, catalog, kafka, s3, config, log };
      const env = await restoreEnvironment(fixtures);
      const stack = await startApi(fixtures, { workers: 0, rateLimits: { pitr: 1000 } });
      const api = apiClient(stack.api.url);
      const dropped: string[] = [];
      try {
        // Schemas are database-wide: tenant ids of this run only, and its schemas dropped.
        const ta = `ta-${randomUUID().slice(0, 8)}`;
        const tb = `tb-${randomUUID().slice(0, 8)}`;
        await source.exec(
          `INSERT INTO accounts SELECT g, '${ta}', 'a' || g, 'pro' FROM generate_series(1, 5) g`,
        );
        await env.snapshotter.take({ tenant: ta, kind: 'full', createdBy: 'test' });
        const target = await env.now();
        const operator = await token('operator', ta);
        const mine = tenantSchemaPrefix(ta);
        const theirs = tenantSchemaPrefix(tb);
        await source.exec(`CREATE SCHEMA ${mine}taken; CREATE SCHEMA ${theirs}exists`);
        dropped.push(`${mine}taken`, `${theirs}exists`);
        const restore = (targetSchema: string, dryRun: boolean) =>
          api.call('POST', '/v1/restores', {
            token: operator,
            json: { targetTimestamp: target, targetSchema, dryRun, confirmRestore: !dryRun },
          });
        const problem = (body: unknown): string =>
          z
            .object({
              error: z.object({
                code: z.literal('VALIDATION_FAILED'),
                details: z.object({
                  problems: z.array(
                    z.object({ path: z.literal('targetSchema'), message: z.string() }),
                  ),
                }),
              }),
            })
            .parse(body).error.details.problems[0]?.message ?? '';
        for (const name of [
          'backtrack',
          'public',
          'pg_catalog',
          'pg_toast',
          'pg_foo',
          `${mine}taken`,
        ]) {
          for (const dryRun of [true, false]) {
            const response = await restore(name, dryRun);
            expect(response.status, `${name} dryRun=${dryRun}`).toBe(400);
            expect(problem(response.body)).not.toBe('');
          }
        }
        // Another tenant's namespace: refused the same way whether its schema exists or not.
        const a = await restore(`${theirs}exists`, true);
        const b = await restore(`${theirs}absent`, true);
        expect([a.status, b.status]).toEqual([400, 400]);
        expect(problem(a.body)).toBe(problem(b.body));
        expect(problem(a.body)).toContain(mine);
        // No job was queued by any refusal.
        const jobs = await catalog.pool.query(
          `SELECT count(*)::int AS n FROM backtrack.jobs WHERE tenant_id = $1 AND type = 'restore'`,
          [ta],
        );
        expect(jobs.rows[0]?.n).toBe(0);
        // A name of its own namespace, and the default, preview fine.
        const preview = z.object({ preview: z.object({ targetSchema: z.string() }) });
        expect(
          bodyOf(await restore(`${mine}before_incident`, true), preview).preview.targetSchema,
        ).toBe(`${mine}before_incident`);
        const defaulted = await api.call('POST', '/v1/restores', {
          token: operator,
          json: { targetTimestamp: target, dryRun: true },
        });
        expect(bodyOf(defaulted, preview).preview.targetSchema.startsWith(mine)).toBe(true);
        expect(api.statuses.filter((s) => s >= 500)).toEqual([]);
      } finally {
        for (const schema of dropped) await source.exec(`DROP SCHEMA IF EXISTS ${schema}`);
        await stack.stop();
        await env.close();
      }
    },
  );

  test('envelopes: a too-long path parameter is a 400 after auth and audited; a huge body 413, huge headers 431', async ({
    source,
    catalog,
    kafka,
    s3,
    config,
    log,
  }) => {
    await withApi({ source, catalog, kafka, s3, config, log }, {}, async (api) => {
      const admin = await token('admin', 'ta');
      const long = `/v1/schedules/${'a'.repeat(5000)}`;
      const anonymous = await api.call('DELETE', long);
      expect(anonymous.status).toBe(401);
      expect(codeOf(anonymous.body)).toBe('AUTH_REQUIRED');
      const refused = await api.call('DELETE', long, { token: admin });
      expect(refused.status).toBe(400);
      expect(codeOf(refused.body)).toBe('VALIDATION_FAILED');
      const requestId = refused.headers.get('x-request-id');
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      const audit = await catalog.pool.query(
        'SELECT action, outcome, status_code FROM backtrack.audit_log WHERE request_id = $1',
        [requestId],
      );
      expect(audit.rows).toEqual([
        { action: 'schedule.delete', outcome: 'failure', status_code: 400 },
      ]);
      const huge = await api.call('POST', '/v1/schedules', {
        token: admin,
        raw: JSON.stringify({ ...schedule, name: 'x'.repeat(10 * 1024 * 1024) }),
      });
      expect(huge.status).toBe(413);
      expect(codeOf(huge.body)).toBe('PAYLOAD_TOO_LARGE');
      const hugeUrl = await api.call('GET', '/v1/schedules', {
        token: admin,
        query: { limit: '1'.repeat(20_000) },
      });
      expect(hugeUrl.status).toBe(431);
      expect(codeOf(hugeUrl.body)).toBe('HEADERS_TOO_LARGE');
      expect(hugeUrl.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const badUrl = await api.call('GET', '/v1/schedules/%E0%A4%A');
      expect(badUrl.status).toBe(400);
      expect(errorBody.safeParse(badUrl.body).success).toBe(true);
    });
  });

  test("schedules: another tenant's DR plan is 404, a cron more frequent than the minimum is 400", async ({
    source,
    catalog,
    kafka,
    s3,
    config,
    log,
  }) => {
    await withApi({ source, catalog, kafka, s3, config, log }, {}, async (api) => {
      const admin = await token('admin', 'ta');
      const otherAdmin = await token('admin', 'tb');
      const theirPlan = bodyOf(
        await api.call('POST', '/v1/dr-plans', { token: otherAdmin, json: plan }),
        createdPlan,
      ).drPlan.id;
      const myPlan = bodyOf(
        await api.call('POST', '/v1/dr-plans', { token: admin, json: plan }),
        createdPlan,
      ).drPlan.id;
      const drSchedule = (drPlanId: string | undefined, name: string) => ({
        ...schedule,
        name,
        jobType: 'dr-test',
        params: { drPlanId },
      });
      const crossed = await api.call('POST', '/v1/schedules', {
        token: admin,
        json: drSchedule(theirPlan, 'crossed'),
      });
      expect(crossed.status).toBe(404);
      expect(codeOf(crossed.body)).toBe('RESOURCE_NOT_FOUND');
      const own = await api.call('POST', '/v1/schedules', {
        token: admin,
        json: drSchedule(myPlan, 'own'),
      });
      expect(own.status).toBe(201);
      const ownId = bodyOf(own, z.object({ schedule: z.object({ id: z.uuid() }) })).schedule.id;
      const patched = await api.call('PATCH', `/v1/schedules/${ownId}`, {
        token: admin,
        json: { params: { drPlanId: theirPlan } },
      });
      expect(patched.status).toBe(404);

      for (const cron of ['* * * * * *', '*/10 * * * * *', '* * * * *', '0,1 3 * * *']) {
        const response = await api.call('POST', '/v1/schedules', {
          token: admin,
          json: { ...schedule, name: `every-${cron}`, cron },
        });
        expect(response.status, cron).toBe(400);
        expect(response.text).toContain('BACKTRACK_API_MIN_SCHEDULE_INTERVAL_SECONDS');
      }
      // Exactly the minimum (300 s in the harness) is allowed, disabled or not.
      for (const enabled of [true, false]) {
        const response = await api.call('POST', '/v1/schedules', {
          token: admin,
          json: { ...schedule, name: `five-${enabled}`, cron: '*/5 * * * *', enabled },
        });
        expect(response.status).toBe(201);
      }
      const tighter = await api.call('PATCH', `/v1/schedules/${ownId}`, {
        token: admin,
        json: { cron: '* * * * * *' },
      });
      expect(tighter.status).toBe(400);
    });
  });

  test("tokens live at most the maximum lifetime; request ids are the server's", async ({
    source,
    catalog,
    kafka,
    s3,
    config,
    log,
  }) => {
    await withApi({ source, catalog, kafka, s3, config, log }, {}, async (api) => {
      const now = Math.floor(Date.now() / 1000);
      const claims = { sub: 'alice', role: 'admin', tenant_id: 'ta' };
      for (const exp of [1e300, now + 86_400 * 365, now + 86_400 + 120]) {
        const response = await api.call('GET', '/v1/schedules', {
          token: await rawToken(claims, exp),
        });
        expect(response.status, String(exp)).toBe(401);
        expect(response.text).toContain('BACKTRACK_API_MAX_TOKEN_LIFETIME_SECONDS');
      }
      const fine = await api.call('GET', '/v1/schedules', {
        token: await rawToken(claims, now + 86_400 - 60),
      });
      expect(fine.status).toBe(200);

      // Two calls with the same client id: two server ids, one correlation id.
      const admin = await token('admin', 'ta');
      const ids: string[] = [];
      for (const name of ['one', 'two']) {
        const response = await api.call('POST', '/v1/schedules', {
          token: admin,
          requestId: 'client-chosen-1',
          json: { ...schedule, name },
        });
        expect(response.status).toBe(201);
        expect(response.headers.get('x-correlation-id')).toBe('client-chosen-1');
        ids.push(response.headers.get('x-request-id') ?? '');
      }
      expect(new Set(ids).size).toBe(2);
      const rows = await catalog.pool.query(
        `SELECT request_id FROM backtrack.audit_log WHERE correlation_id = 'client-chosen-1' ORDER BY id`,
      );
      expect(rows.rows.map((r) => r.request_id)).toEqual(ids);
    });
  });

  test('the CSV export neutralises cells a spreadsheet would run as formulas', async ({
    source,
    catalog,
    kafka,
    s3,
    config,
    log,
  }) => {
    await withApi({ source, catalog, kafka, s3, config, log }, {}, async (api) => {
      const from = new Date(Date.now() - 60_000).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      // The tenant id is the caller's text that reaches a CSV cell as is.
      const cases: [string, string][] = [
        ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
        ['+1', "'+1"],
        ['-1+2', "'-1+2"],
        ['@SUM(A1)', "'@SUM(A1)"],
      ];
      for (const [tenant, cell] of cases) {
        const admin = await token('admin', tenant);
        expect((await api.call('POST', '/v1/backups', { token: admin, json: {} })).status).toBe(
          202,
        );
        const csv = await api.call('GET', '/v1/audit/export', {
          token: admin,
          query: { from, to, format: 'csv' },
        });
        expect(csv.status).toBe(200);
        const row = csv.text.split('\r\n')[1] ?? '';
        expect(row, tenant).toContain(`,${cell},`);
        expect(row).not.toContain(`,${tenant}`);
        expect(row).not.toContain(`,"${tenant.slice(0, 4)}`);
      }
    });
  });

  test('rate limits: every request that passed auth and validation counts, whatever the handler answers', async ({
    source,
    catalog,
    kafka,
    s3,
    config,
    log,
  }) => {
    const options = { rateLimits: { restore: 2 } };
    await withApi({ source, catalog, kafka, s3, config, log }, options, async (api) => {
      const unknown = { backupId: '00000000-0000-4000-8000-000000000000', dryRun: true };
      // A fixed window can end between two requests; then the run is repeated, once.
      for (let attempt = 0; ; attempt++) {
        const operator = await token('operator', `ta-${attempt}`);
        const resets = new Set<string | null>();
        // Invalid requests (400 from the schema) do not count.
        for (let i = 0; i < 3; i++) {
          const invalid = await api.call('POST', '/v1/restores', {
            token: operator,
            json: { ...unknown, tables: ['Not A Table'] },
          });
          expect(invalid.status).toBe(400);
        }
        // A handler's 404 counts: two of them use up the bucket of two.
        const statuses: number[] = [];
        for (let i = 0; i < 3; i++) {
          const response = await api.call('POST', '/v1/restores', {
            token: operator,
            json: unknown,
          });
          statuses.push(response.status);
          resets.add(response.headers.get('x-ratelimit-reset'));
        }
        if (resets.size > 1 && attempt === 0) continue;
        expect(statuses).toEqual([404, 404, 429]);
        break;
      }
    });
  });
});
