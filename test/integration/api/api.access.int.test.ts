/**
 * Every route of the control API, against the real stack: without a token (or with a bad
 * one) 401 AUTH_REQUIRED; with a role below the route's 403 INSUFFICIENT_PERMISSIONS;
 * another tenant's resource 404 and never its data; a table-driven sweep of well over 200
 * malformed requests (wrong types, unknown fields, huge strings, bad timestamps, cron
 * nonsense, RTO < RPO, SQL-looking names and ids) 400 VALIDATION_FAILED with the
 * problems listed; a second restore of a tenant while one is queued 409
 * RESTORE_IN_PROGRESS. Not one answer is a 500. The route table below must list every
 * route the server has, so a new route cannot skip these checks.
 */
import { SignJWT } from 'jose';
import { z } from 'zod';

import type { Role } from '../../../services/control-api/index.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';

import {
  type ApiClient,
  apiClient,
  type ApiRequest,
  bodyOf,
  JWT_SECRET,
  startApi,
  token,
} from './harness.js';

type Access = Role | 'public';

/** Every route and the least role it needs. */
const ROUTES: Readonly<Record<string, Access>> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'public',
  'GET /docs': 'public',
  'GET /docs/json': 'public',
  'GET /v1/jobs': 'viewer',
  'GET /v1/jobs/:id': 'viewer',
  'POST /v1/backups': 'operator',
  'GET /v1/backups': 'viewer',
  'GET /v1/backups/:id': 'viewer',
  'DELETE /v1/backups/:id': 'admin',
  'GET /v1/restore-points': 'viewer',
  'POST /v1/restores': 'operator',
  'GET /v1/restores': 'viewer',
  'GET /v1/restores/:id': 'viewer',
  'GET /v1/snapshots': 'viewer',
  'POST /v1/rollbacks': 'operator',
  'GET /v1/rollbacks': 'viewer',
  'GET /v1/rollbacks/:id': 'viewer',
  'POST /v1/schedules': 'admin',
  'GET /v1/schedules': 'viewer',
  'GET /v1/schedules/:id': 'viewer',
  'PATCH /v1/schedules/:id': 'admin',
  'DELETE /v1/schedules/:id': 'admin',
  'POST /v1/dr-plans': 'admin',
  'GET /v1/dr-plans': 'viewer',
  'GET /v1/dr-plans/:id': 'viewer',
  'PATCH /v1/dr-plans/:id': 'admin',
  'DELETE /v1/dr-plans/:id': 'admin',
  'POST /v1/dr-tests': 'operator',
  'GET /v1/dr-tests': 'viewer',
  'GET /v1/dr-tests/:id': 'viewer',
  'GET /v1/health': 'viewer',
  'GET /v1/stats': 'viewer',
  'GET /v1/audit': 'admin',
  'GET /v1/audit/export': 'admin',
};

const BELOW: Partial<Record<Role, Role>> = { operator: 'viewer', admin: 'operator' };

const errorBody = z.object({
  success: z.literal(false),
  error: z.object({
    code: z.string(),
    message: z.string().min(10),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
const problemsBody = z.object({
  success: z.literal(false),
  error: z.object({
    code: z.literal('VALIDATION_FAILED'),
    message: z.string(),
    details: z.object({
      problems: z
        .array(z.object({ in: z.string(), path: z.string(), message: z.string().min(1) }))
        .min(1),
    }),
  }),
});
const created = z.object({ success: z.literal(true), jobId: z.uuid() });

/** One malformed request of the sweep. */
interface BadRequest {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly request: Omit<ApiRequest, 'token'>;
  /** Refused as too large (413 PAYLOAD_TOO_LARGE) rather than invalid (400). */
  readonly tooLarge?: true;
}

const tooLargeBody = z.object({
  success: z.literal(false),
  error: z.object({ code: z.literal('PAYLOAD_TOO_LARGE'), message: z.string().min(1) }),
});

/** Ids that are not ids: SQL, garbage, long, almost-UUIDs. */
const BAD_IDS = [
  'not-a-uuid',
  '1 OR 1=1',
  "x'; DROP TABLE backtrack.jobs;--",
  'a'.repeat(150),
  '00000000-0000-0000-0000-00000000000g',
  '../../etc/passwd',
];

/** Queries every paged list refuses. */
const BAD_PAGES: Record<string, string>[] = [
  { limit: '0' },
  { limit: '-1' },
  { limit: 'abc' },
  { limit: '100000' },
  { limit: '1e3' },
  { offset: '-1' },
  { offset: '1.5' },
  { unknown: '1' },
  { limit: '5; DROP TABLE backtrack.audit_log' },
];

const T = '2026-01-01T00:00:00Z';

/** A valid PATCH body of a route (schedules say `enabled`, DR plans `isActive`). */
const patchOf = (template: string): Record<string, unknown> =>
  template.includes('dr-plans') ? { isActive: false } : { enabled: false };

function variants(
  method: string,
  path: string,
  base: Record<string, unknown>,
  changes: readonly (readonly [string, Record<string, unknown>])[],
): BadRequest[] {
  return changes.map(([name, change]) => ({
    name: `${method} ${path}: ${name}`,
    method,
    path,
    request: { json: { ...base, ...change } },
  }));
}

/** The sweep: at least 200 malformed requests, each a 400 VALIDATION_FAILED. */
function badRequests(ids: { schedule: string; plan: string }): BadRequest[] {
  const out: BadRequest[] = [];
  const idRoutes = Object.keys(ROUTES)
    .filter((r) => r.endsWith('/:id'))
    .map((r) => r.split(' ') as [string, string]);
  for (const [method, template] of idRoutes) {
    for (const id of BAD_IDS) {
      out.push({
        name: `${method} ${template}: id ${id.slice(0, 40)}`,
        method,
        path: template.replace(':id', encodeURIComponent(id)),
        request: method === 'PATCH' ? { json: patchOf(template) } : {},
      });
    }
  }
  const pagedLists = [
    '/v1/jobs',
    '/v1/backups',
    '/v1/restores',
    '/v1/schedules',
    '/v1/dr-plans',
    '/v1/dr-tests',
  ];
  for (const path of pagedLists)
    for (const query of BAD_PAGES)
      out.push({
        name: `GET ${path}?${JSON.stringify(query)}`,
        method: 'GET',
        path,
        request: { query },
      });
  const queries: [string, Record<string, string>][] = [
    ['/v1/jobs', { type: 'bogus' }],
    ['/v1/jobs', { status: 'done' }],
    ['/v1/backups', { kind: 'incremental' }],
    ['/v1/backups', { status: "completed' OR '1'='1" }],
    ['/v1/dr-tests', { drPlanId: 'abc' }],
    ['/v1/rollbacks', { limit: '0' }],
    ['/v1/rollbacks', { offset: '1' }],
    ['/v1/restore-points', { at: 'now' }],
    ['/v1/snapshots', { kind: 'full' }],
    ['/v1/health', { days: '0' }],
    ['/v1/health', { days: '366' }],
    ['/v1/health', { days: 'abc' }],
    ['/v1/health', { verbose: 'true' }],
    ['/v1/stats', { days: '-3' }],
    ['/v1/stats', { days: '1.5' }],
    ['/v1/audit', { from: 'yesterday' }],
    ['/v1/audit', { to: '2026-13-01T00:00:00Z' }],
    ['/v1/audit', { from: '2026-01-01T00:00:00' }],
    ['/v1/audit', { after: 'abc' }],
    ['/v1/audit', { after: '-1' }],
    ['/v1/audit', { outcome: 'maybe' }],
    ['/v1/audit', { limit: '0' }],
    ['/v1/audit', { action: 'x'.repeat(101) }],
    ['/v1/audit', { sort: 'id; DROP TABLE backtrack.audit_log' }],
    ['/v1/audit/export', {}],
    ['/v1/audit/export', { from: T }],
    ['/v1/audit/export', { from: '2026-02-01T00:00:00Z', to: T }],
    ['/v1/audit/export', { from: T, to: T }],
    ['/v1/audit/export', { from: T, to: '2026-03-01T00:00:00Z', format: 'xml' }],
    ['/v1/audit/export', { from: '2026-01-01', to: '2026-02-01' }],
    ['/v1/audit/export', { from: 'epoch', to: 'now' }],
  ];
  for (const [path, query] of queries)
    out.push({
      name: `GET ${path}?${JSON.stringify(query)}`,
      method: 'GET',
      path,
      request: { query },
    });

  const restore = { targetTimestamp: T, dryRun: true };
  out.push(
    ...variants('POST', '/v1/restores', restore, [
      ['timestamp words', { targetTimestamp: 'yesterday' }],
      ['month 13', { targetTimestamp: '2026-13-01T00:00:00Z' }],
      ['hour 25', { targetTimestamp: '2026-01-01T25:00:00Z' }],
      ['no zone', { targetTimestamp: '2026-01-01T00:00:00' }],
      ['date only', { targetTimestamp: '2026-01-01' }],
      ['number', { targetTimestamp: 1_767_225_600 }],
      ['null', { targetTimestamp: null }],
      ['empty', { targetTimestamp: '' }],
      ['huge', { targetTimestamp: '2'.repeat(100_000) }],
      ['SQL after it', { targetTimestamp: `${T}'; DROP TABLE accounts;--` }],
      ['tables not a list', { tables: 'accounts' }],
      ['no tables', { tables: [] }],
      ['SQL table', { tables: ['accounts; DROP TABLE accounts'] }],
      ['Bobby table', { tables: ["Robert'); DROP TABLE students;--"] }],
      ['quoted table', { tables: ['"accounts"'] }],
      ['upper-case table', { tables: ['ACCOUNTS'] }],
      ['three-part table', { tables: ['a.b.c'] }],
      ['long table', { tables: ['x'.repeat(200)] }],
      ['number table', { tables: [1] }],
      ['null table', { tables: [null] }],
      ['501 tables', { tables: Array.from({ length: 501 }, (_, i) => `t${i}`) }],
      ['schema with dash', { targetSchema: 'Bad-Schema' }],
      ['schema with SQL', { targetSchema: 'x; DROP SCHEMA public CASCADE' }],
      ['empty schema', { targetSchema: '' }],
      ['64-character schema', { targetSchema: 's'.repeat(64) }],
      ['number schema', { targetSchema: 5 }],
      ['inPlace text', { inPlace: 'yes' }],
      ['dryRun text', { dryRun: 'true' }],
      ['dryRun null', { dryRun: null }],
      ['confirm number', { confirmRestore: 1 }],
      ['inPlace and schema', { inPlace: true, targetSchema: 'restored' }],
      ['no instant', { targetTimestamp: undefined }],
      ['instant and backup', { backupId: '00000000-0000-4000-8000-000000000000' }],
      ['backup id garbage', { targetTimestamp: undefined, backupId: 'latest' }],
      ['tenant in the body', { tenant: 'tb' }],
      ['unknown field', { pointInTime: T }],
      ['not confirmed', { dryRun: false }],
      ['not confirmed in place', { dryRun: false, inPlace: true }],
    ]),
  );
  out.push(
    ...variants('POST', '/v1/backups', {}, [
      ['kind incremental', { kind: 'incremental' }],
      ['kind number', { kind: 5 }],
      ['kind pre_restore', { kind: 'pre_restore' }],
      ['empty label', { label: '' }],
      ['long label', { label: 'l'.repeat(201) }],
      ['NUL in label', { label: 'bad\u0000label' }],
      ['bell in label', { label: 'ring\u0007' }],
      ['unknown field', { tables: ['accounts'] }],
      ['tenant in the body', { tenant: 'tb' }],
    ]),
  );
  const rollback = { snapshotId: '00000000-0000-4000-8000-000000000000', dryRun: true };
  out.push(
    ...variants('POST', '/v1/rollbacks', rollback, [
      ['no snapshot', { snapshotId: undefined }],
      ['snapshot garbage', { snapshotId: 'last' }],
      ['snapshot number', { snapshotId: 5 }],
      ['snapshot SQL', { snapshotId: "' OR 1=1 --" }],
      ['empty reason', { reason: '' }],
      ['long reason', { reason: 'r'.repeat(1001) }],
      ['reason control characters', { reason: 'a\u001bb' }],
      ['dryRun text', { dryRun: 'no' }],
      ['not confirmed', { dryRun: false }],
      ['confirm text', { dryRun: false, confirmRollback: 'yes' }],
      ['unknown field', { force: true }],
    ]),
  );
  const schedule = { name: 'nightly', cron: '0 3 * * *', jobType: 'snapshot' };
  out.push(
    ...variants('POST', '/v1/schedules', schedule, [
      ['cron words', { cron: 'every day at 3' }],
      ['cron three fields', { cron: '* * *' }],
      ['cron minute 61', { cron: '61 * * * *' }],
      ['cron hour 24', { cron: '0 24 * * *' }],
      ['cron eight fields', { cron: '* * * * * * * *' }],
      ['cron empty', { cron: '' }],
      ['cron huge', { cron: `${'1,'.repeat(200)}1 * * * *` }],
      ['cron never', { cron: '0 0 31 2 *' }],
      ['cron shell', { cron: '0 3 * * * ; rm -rf /' }],
      ['cron number', { cron: 5 }],
      ['zone on Mars', { timezone: 'Mars/Olympus_Mons' }],
      ['zone empty', { timezone: '' }],
      ['zone SQL', { timezone: "UTC'; DROP TABLE x;--" }],
      ['job type restore', { jobType: 'restore' }],
      ['job type missing', { jobType: undefined }],
      ['retention 0', { retentionDays: 0 }],
      ['retention negative', { retentionDays: -1 }],
      ['retention fraction', { retentionDays: 1.5 }],
      ['retention text', { retentionDays: '7' }],
      ['retention huge', { retentionDays: 36_501 }],
      ['max backups 0', { maxBackups: 0 }],
      ['max backups text', { maxBackups: 'all' }],
      ['targets not a list', { notificationTargets: 'ops@example.com' }],
      ['target ftp', { notificationTargets: ['ftp://example.com/hook'] }],
      ['target not an address', { notificationTargets: ['not-an-email'] }],
      ['target javascript', { notificationTargets: ['javascript:alert(1)'] }],
      [
        '21 targets',
        { notificationTargets: Array.from({ length: 21 }, (_, i) => `o${i}@example.com`) },
      ],
      ['empty name', { name: '' }],
      ['long name', { name: 'n'.repeat(101) }],
      ['control character in name', { name: 'a\u0001b' }],
      ['name missing', { name: undefined }],
      ['params kind', { params: { kind: 'delta' } }],
      ['params unknown', { params: { shell: 'rm' } }],
      ['params text', { params: 'x' }],
      ['enabled text', { enabled: 'yes' }],
      ['unknown field', { owner: 'me' }],
    ]),
  );
  out.push(
    ...variants('PATCH', `/v1/schedules/${ids.schedule}`, {}, [
      ['nothing to change', {}],
      ['cron words', { cron: 'whenever' }],
      ['zone unknown', { timezone: 'Nowhere/Land' }],
      ['unknown field', { tenant: 'tb' }],
      ['enabled text', { enabled: 'no' }],
      ['retention 0', { retentionDays: 0 }],
      ['empty name', { name: '' }],
    ]),
  );
  const plan = {
    name: 'gold',
    rtoMinutes: 60,
    rpoMinutes: 15,
    backupFrequency: '0 * * * *',
    testFrequency: '0 4 * * 1',
    retentionDays: 30,
  };
  out.push(
    ...variants('POST', '/v1/dr-plans', plan, [
      ['RTO below RPO', { rtoMinutes: 10, rpoMinutes: 15 }],
      ['RTO 0', { rtoMinutes: 0 }],
      ['RPO 0', { rpoMinutes: 0 }],
      ['RTO text', { rtoMinutes: 'an hour' }],
      ['RTO fraction', { rtoMinutes: 1.5 }],
      ['RTO over a year', { rtoMinutes: 525_601 }],
      ['RPO missing', { rpoMinutes: undefined }],
      ['backup frequency words', { backupFrequency: 'hourly' }],
      ['test frequency two fields', { testFrequency: '* *' }],
      ['priority urgent', { priority: 'urgent' }],
      ['zone unknown', { timezone: 'Nope/Nope' }],
      ['retention 0', { retentionDays: 0 }],
      ['long description', { description: 'd'.repeat(2001) }],
      ['target not an address', { notificationTargets: ['nope'] }],
      ['active text', { isActive: 'y' }],
      ['unknown field', { sla: '99.9' }],
    ]),
  );
  out.push(
    ...variants('PATCH', `/v1/dr-plans/${ids.plan}`, {}, [
      ['nothing to change', {}],
      ['RTO below RPO in the body', { rtoMinutes: 5, rpoMinutes: 10 }],
      ['RTO below the stored RPO', { rtoMinutes: 1 }],
      ['priority unknown', { priority: 'whenever' }],
      ['unknown field', { owner: 'x' }],
      ['test frequency words', { testFrequency: 'weekly' }],
    ]),
  );
  out.push(
    ...variants('POST', '/v1/dr-tests', { testName: 'quarterly' }, [
      ['no name', { testName: undefined }],
      ['empty name', { testName: '' }],
      ['long name', { testName: 'q'.repeat(201) }],
      ['name number', { testName: 5 }],
      ['type random', { testType: 'random' }],
      ['level extreme', { validationLevel: 'extreme' }],
      ['plan garbage', { drPlanId: 'gold' }],
      ['backup garbage', { backupId: 'latest' }],
      ['unknown field', { simulate: true }],
    ]),
  );
  // Bodies that are not objects, not JSON, too large, or of another media type.
  for (const path of [
    '/v1/restores',
    '/v1/backups',
    '/v1/rollbacks',
    '/v1/schedules',
    '/v1/dr-plans',
    '/v1/dr-tests',
  ]) {
    out.push(
      { name: `POST ${path}: array body`, method: 'POST', path, request: { json: [] } },
      { name: `POST ${path}: string body`, method: 'POST', path, request: { json: 'restore' } },
      { name: `POST ${path}: number body`, method: 'POST', path, request: { json: 42 } },
      {
        name: `POST ${path}: broken JSON`,
        method: 'POST',
        path,
        request: { raw: '{"targetTimestamp":' },
      },
      {
        name: `POST ${path}: text body`,
        method: 'POST',
        path,
        request: { raw: 'targetTimestamp=now', contentType: 'text/plain' },
      },
      {
        name: `POST ${path}: 2 MB body`,
        method: 'POST',
        path,
        request: { raw: JSON.stringify({ label: 'x'.repeat(2 * 1024 * 1024) }) },
        tooLarge: true,
      },
    );
  }
  return out;
}

async function expectError(
  api: ApiClient,
  method: string,
  path: string,
  request: ApiRequest,
  status: number,
  codes: readonly string[],
): Promise<void> {
  const response = await api.call(method, path, request);
  const what = `${method} ${path} → ${response.status} ${response.text.slice(0, 300)}`;
  expect(response.status, what).toBe(status);
  const body = bodyOf(response, errorBody);
  expect(codes, what).toContain(body.error.code);
}

describe('control API: access and validation', () => {
  test(
    'every route: 401 without a valid token, 403 below its role, 404 for another tenant, 400 for 200+ malformed requests, never 500',
    { timeout: 300_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const fixtures = { source, catalog, kafka, s3, config, log };
      const env = await restoreEnvironment(fixtures);
      // No workers: queued jobs stay queued, so every resource below stays as created.
      const stack = await startApi(fixtures, { workers: 0 });
      const api = apiClient(stack.api.url);
      try {
        for (const [t, tenant] of ['ta', 'tc'].entries())
          await source.exec(
            `INSERT INTO accounts SELECT ${(t + 1) * 100} + g, '${tenant}', 'a' || g, 'pro' FROM generate_series(1, 5) g`,
          );
        const ta = {
          admin: await token('admin', 'ta'),
          operator: await token('operator', 'ta'),
          viewer: await token('viewer', 'ta'),
        };
        const tbAdmin = await token('admin', 'tb');
        const tcAdmin = await token('admin', 'tc');

        // The route table is the server's: nothing missing, nothing extra.
        const docs = bodyOf(
          await api.call('GET', '/docs/json'),
          z.object({ paths: z.record(z.string(), z.record(z.string(), z.unknown())) }),
        );
        const documented = Object.entries(docs.paths).flatMap(([path, methods]) =>
          Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.replace('{id}', ':id')}`),
        );
        expect([...documented, 'GET /metrics', 'GET /docs', 'GET /docs/json'].sort()).toEqual(
          Object.keys(ROUTES).sort(),
        );

        // Resources of tenant ta (and a rollback of tc) to reach from elsewhere.
        const backup = await env.snapshotter.take({
          tenant: 'ta',
          kind: 'full',
          createdBy: 'test',
        });
        const preRestore = await env.snapshotter.take({
          tenant: 'tc',
          kind: 'pre_restore',
          createdBy: 'test',
        });
        const target = await env.now();
        const job = bodyOf(
          await api.call('POST', '/v1/backups', { token: ta.operator, json: {} }),
          created,
        );
        const restore = bodyOf(
          await api.call('POST', '/v1/restores', {
            token: ta.operator,
            json: { targetTimestamp: target, confirmRestore: true },
          }),
          created,
        );
        // A second restore of ta while the first is queued.
        await expectError(
          api,
          'POST',
          '/v1/restores',
          {
            token: ta.admin,
            json: { targetTimestamp: target, inPlace: true, confirmRestore: true },
          },
          409,
          ['RESTORE_IN_PROGRESS'],
        );
        const rollback = bodyOf(
          await api.call('POST', '/v1/rollbacks', {
            token: tcAdmin,
            json: { snapshotId: preRestore.id, confirmRollback: true },
          }),
          created,
        );
        const schedule = bodyOf(
          await api.call('POST', '/v1/schedules', {
            token: ta.admin,
            json: {
              name: 'nightly',
              cron: '0 3 * * *',
              timezone: 'Europe/Paris',
              jobType: 'snapshot',
            },
          }),
          z.object({ schedule: z.object({ id: z.uuid(), nextRunAt: z.string() }) }),
        ).schedule;
        const plan = bodyOf(
          await api.call('POST', '/v1/dr-plans', {
            token: ta.admin,
            json: {
              name: 'gold',
              rtoMinutes: 60,
              rpoMinutes: 15,
              backupFrequency: '0 * * * *',
              testFrequency: '0 4 * * 1',
              retentionDays: 30,
            },
          }),
          z.object({ drPlan: z.object({ id: z.uuid() }) }),
        ).drPlan;
        const drTest = bodyOf(
          await api.call('POST', '/v1/dr-tests', {
            token: ta.operator,
            json: { testName: 'quarterly', drPlanId: plan.id },
          }),
          created,
        );
        const idOf: Record<string, string> = {
          jobs: job.jobId,
          backups: backup.id,
          restores: restore.jobId,
          rollbacks: rollback.jobId,
          schedules: schedule.id,
          'dr-plans': plan.id,
          'dr-tests': drTest.jobId,
        };
        const concrete = (template: string): string =>
          template.replace(
            /\/v1\/([a-z-]+)\/:id$/,
            (_m, kind: string) => `/v1/${kind}/${idOf[kind] ?? ''}`,
          );
        const owner = (template: string): string =>
          template.startsWith('/v1/rollbacks/') ? 'tc' : 'ta';

        const badTokens = [
          'not-a-jwt',
          await token('admin', 'ta', { secret: 'another-secret-another-secret-0123456' }),
          await token('admin', 'ta', { expiresAt: Math.floor(Date.now() / 1000) - 60 }),
          // Only a platform-admin token may lack a tenant.
          await token('admin', undefined),
          // A role nobody has (viewer routes have no lower role to be refused with 403).
          await new SignJWT({ role: 'root', tenant_id: 'ta' })
            .setProtectedHeader({ alg: 'HS256' })
            .setSubject('mallory')
            .setExpirationTime('1h')
            .sign(new TextEncoder().encode(JWT_SECRET)),
        ];

        for (const [route, access] of Object.entries(ROUTES)) {
          const [method = 'GET', template = '/'] = route.split(' ');
          const path = concrete(template);
          if (access === 'public') {
            const response = await api.call(method, path);
            expect(response.status, route).toBe(200);
            continue;
          }
          // 401: no token, garbage, a token signed with another key, expired, no tenant.
          await expectError(api, method, path, {}, 401, ['AUTH_REQUIRED']);
          for (const bad of badTokens)
            await expectError(api, method, path, { token: bad }, 401, ['AUTH_REQUIRED']);
          // 403: the role just below the route's.
          const below = BELOW[access];
          if (below !== undefined) {
            const tenant = owner(template);
            await expectError(
              api,
              method,
              path,
              {
                token: await token(below, tenant),
                json: method === 'GET' || method === 'DELETE' ? undefined : {},
              },
              403,
              ['INSUFFICIENT_PERMISSIONS'],
            );
          }
          // 404: another tenant's resource, or another tenant named in the query.
          if (template.endsWith('/:id')) {
            const response = await api.call(method, path, {
              token: tbAdmin,
              json: method === 'PATCH' ? patchOf(template) : undefined,
            });
            expect(response.status, `${route} as tb: ${response.text}`).toBe(404);
            expect(['RESOURCE_NOT_FOUND', 'BACKUP_NOT_FOUND']).toContain(
              bodyOf(response, errorBody).error.code,
            );
            expect(response.text).not.toContain('"tenant":"ta"');
          } else {
            await expectError(
              api,
              method,
              path,
              {
                token: tbAdmin,
                query: { tenant: owner(template) },
                json: method === 'POST' ? {} : undefined,
              },
              404,
              ['TENANT_NOT_FOUND'],
            );
          }
        }

        // Another tenant's ids inside a body are unknown too, and nothing of ta changed.
        await expectError(
          api,
          'POST',
          '/v1/restores',
          { token: tbAdmin, json: { backupId: backup.id, dryRun: true } },
          404,
          ['BACKUP_NOT_FOUND'],
        );
        await expectError(
          api,
          'POST',
          '/v1/rollbacks',
          { token: tbAdmin, json: { snapshotId: preRestore.id, dryRun: true } },
          404,
          ['SNAPSHOT_NOT_FOUND'],
        );
        await expectError(
          api,
          'POST',
          '/v1/dr-tests',
          { token: tbAdmin, json: { testName: 'x', drPlanId: plan.id } },
          404,
          ['RESOURCE_NOT_FOUND'],
        );
        for (const path of [
          `/v1/backups/${backup.id}`,
          `/v1/schedules/${schedule.id}`,
          `/v1/dr-plans/${plan.id}`,
        ]) {
          const still = await api.call('GET', path, { token: ta.viewer });
          expect(still.status, path).toBe(200);
        }
        expect(
          bodyOf(
            await api.call('GET', `/v1/schedules/${schedule.id}`, { token: ta.viewer }),
            z.object({ schedule: z.object({ enabled: z.boolean() }) }),
          ).schedule.enabled,
        ).toBe(true);

        // A platform-admin names the tenant it acts for.
        const platform = await token('platform-admin', undefined);
        expect(
          (
            await api.call('GET', `/v1/backups/${backup.id}`, {
              token: platform,
              query: { tenant: 'ta' },
            })
          ).status,
        ).toBe(200);
        await expectError(api, 'GET', '/v1/backups', { token: platform }, 400, [
          'VALIDATION_FAILED',
        ]);

        // The sweep.
        const sweep = badRequests({ schedule: schedule.id, plan: plan.id });
        expect(sweep.length).toBeGreaterThanOrEqual(200);
        const wrong: string[] = [];
        for (const bad of sweep) {
          const response = await api.call(bad.method, bad.path, {
            ...bad.request,
            token: ta.admin,
          });
          const parsed = (bad.tooLarge ? tooLargeBody : problemsBody).safeParse(response.body);
          if (response.status !== (bad.tooLarge ? 413 : 400) || !parsed.success)
            wrong.push(`${bad.name} → ${response.status} ${response.text.slice(0, 200)}`);
        }
        expect(wrong).toEqual([]);

        expect(api.statuses.filter((s) => s >= 500)).toEqual([]);
        expect(api.statuses.length).toBeGreaterThan(sweep.length + 150);
      } finally {
        await stack.stop();
        await env.close();
      }
    },
  );
});
