/**
 * `/v1/dr-tests`: run a DR test of the tenant (a job; see dr-test.ts for what each level
 * really does), list them and show one: status, measured RTO against the plan's, issues.
 * A test's id is its job's id.
 */
import { randomUUID } from 'node:crypto';

import { z } from 'zod';

import { findDrPlan } from '../../../shared/catalog/dr-plans.js';
import {
  DR_TEST_TYPES,
  type DrTest,
  findDrTest,
  listDrTests,
  VALIDATION_LEVELS,
} from '../../../shared/catalog/dr-tests.js';
import { enqueueJob } from '../../../shared/catalog/jobs.js';
import { BacktrackError } from '../../../shared/errors.js';
import { accepted, actorOf, type ApiDeps, tenantOf } from '../context.js';
import {
  acceptedJob,
  idParams,
  iso,
  ok,
  page,
  tenantParameter,
  tenantQuery,
  text,
} from '../schemas.js';

import { requireBackup } from './backups.js';
import { requireJob } from './jobs.js';

import type { TypedApp } from './index.js';

/** The parameters of a DR-test job. */
export const drTestParams = z.strictObject({
  drPlanId: z.uuid().optional(),
  backupId: z.uuid().optional(),
  testName: text(200),
  testType: z.enum(DR_TEST_TYPES).default('manual'),
  validationLevel: z.enum(VALIDATION_LEVELS).default('basic'),
});

const testSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  status: z.enum(['queued', 'running', 'passed', 'failed']),
  drPlanId: z.string().nullable(),
  backupId: z.string().nullable(),
  testName: z.string(),
  testType: z.enum(DR_TEST_TYPES),
  validationLevel: z.enum(VALIDATION_LEVELS),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  measuredRtoSeconds: z.number().nullable(),
  planRtoMinutes: z.number().nullable(),
  rtoMet: z.boolean().nullable(),
  validationsPassed: z.number().int(),
  issuesFound: z.number().int(),
  issues: z.array(z.string()),
  report: z.unknown(),
  createdBy: z.string(),
});

function view(t: DrTest): z.infer<typeof testSchema> {
  return {
    id: t.id,
    tenant: t.tenant,
    status: t.status,
    drPlanId: t.drPlanId,
    backupId: t.backupId,
    testName: t.testName,
    testType: t.testType,
    validationLevel: t.validationLevel,
    startedAt: t.startedAt.toISOString(),
    finishedAt: iso(t.finishedAt),
    measuredRtoSeconds: t.measuredRtoMs === null ? null : t.measuredRtoMs / 1000,
    planRtoMinutes: t.planRtoMinutes,
    rtoMet: t.rtoMet,
    validationsPassed: t.validationsPassed,
    issuesFound: t.issues.length,
    issues: [...t.issues],
    report: t.report,
    createdBy: t.createdBy,
  };
}

/** Registers the DR test routes. */
export function drTestRoutes(app: TypedApp, deps: ApiDeps): void {
  app.post(
    '/v1/dr-tests',
    {
      config: { access: 'operator', audit: 'dr-test.create', rateLimit: 'dr-test' },
      schema: {
        summary: 'Run a DR test (a job): basic, full or deep validation',
        tags: ['dr'],
        querystring: tenantQuery,
        body: drTestParams,
        response: { 202: acceptedJob },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const body = request.body;
      if (body.drPlanId !== undefined && !(await findDrPlan(deps.catalog, tenant, body.drPlanId)))
        throw new BacktrackError('RESOURCE_NOT_FOUND', `DR plan ${body.drPlanId} was not found`, {
          details: { resource: 'dr-plan', id: body.drPlanId },
        });
      if (body.backupId !== undefined) await requireBackup(deps, tenant, body.backupId);
      const job = await enqueueJob(deps.catalog, {
        id: randomUUID(),
        tenant,
        type: 'dr-test',
        params: body,
        maxAttempts: 2,
        createdBy: actorOf(request),
        requestId: request.id,
      });
      request.auditTarget = job.id;
      const location = `/v1/dr-tests/${job.id}`;
      return accepted(reply, location).send({
        success: true,
        jobId: job.id,
        status: job.status,
        location,
      });
    },
  );

  app.get(
    '/v1/dr-tests',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'DR tests of the tenant, newest first',
        tags: ['dr'],
        querystring: z.strictObject({
          tenant: tenantParameter,
          drPlanId: z.uuid().optional(),
          ...page,
        }),
        response: { 200: z.object({ success: ok, drTests: z.array(testSchema) }) },
      },
    },
    async (request) => ({
      success: true as const,
      drTests: (
        await listDrTests(deps.catalog, { tenant: tenantOf(request), ...request.query })
      ).map(view),
    }),
  );

  app.get(
    '/v1/dr-tests/:id',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'One DR test: status, measured RTO, issues',
        tags: ['dr'],
        params: idParams,
        querystring: tenantQuery,
        response: { 200: z.object({ success: ok, drTest: testSchema }) },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const found = await findDrTest(deps.catalog, tenant, request.params.id);
      if (found) return { success: true as const, drTest: view(found) };
      const job = await requireJob(deps, tenant, request.params.id, 'DR test');
      const params = drTestParams.safeParse(job.params);
      if (job.type !== 'dr-test' || !params.success)
        throw new BacktrackError(
          'RESOURCE_NOT_FOUND',
          `DR test ${request.params.id} was not found`,
        );
      return {
        success: true as const,
        drTest: {
          id: job.id,
          tenant,
          status: job.status === 'failed' ? ('failed' as const) : ('queued' as const),
          drPlanId: params.data.drPlanId ?? null,
          backupId: params.data.backupId ?? null,
          testName: params.data.testName,
          testType: params.data.testType,
          validationLevel: params.data.validationLevel,
          startedAt: null,
          finishedAt: iso(job.finishedAt),
          measuredRtoSeconds: null,
          planRtoMinutes: null,
          rtoMet: null,
          validationsPassed: 0,
          issuesFound: job.error ? 1 : 0,
          issues: job.error ? [job.error] : [],
          report: null,
          createdBy: job.createdBy,
        },
      };
    },
  );
}
