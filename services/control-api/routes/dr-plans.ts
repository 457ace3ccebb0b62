/**
 * `/v1/dr-plans`: disaster-recovery plans of the tenant: RTO and RPO (RTO ≥ RPO enforced),
 * backup and test frequency (cron with a time zone), retention, priority, notification
 * targets; answers show the next test date and the last test.
 */
import { randomUUID } from 'node:crypto';

import { z } from 'zod';

import {
  deleteDrPlan,
  DR_PRIORITIES,
  type DrPlan,
  type DrPlanFields,
  findDrPlan,
  insertDrPlan,
  listDrPlans,
  updateDrPlan,
} from '../../../shared/catalog/dr-plans.js';
import { listDrTests } from '../../../shared/catalog/dr-tests.js';
import { BacktrackError, invalidInput } from '../../../shared/errors.js';
import { actorOf, type ApiDeps, tenantOf } from '../context.js';
import { nextFireTime } from '../cron.js';
import {
  cronExpression,
  idParams,
  iso,
  notificationTargets,
  ok,
  page,
  tenantParameter,
  tenantQuery,
  text,
  timeZone,
} from '../schemas.js';

import type { TypedApp } from './index.js';

const minutes = z.number().int().min(1).max(525_600);

const shape = {
  name: text(100),
  description: text(2000).nullable().default(null),
  rtoMinutes: minutes.describe('Recovery time objective (minutes)'),
  rpoMinutes: minutes.describe('Recovery point objective (minutes)'),
  backupFrequency: cronExpression,
  testFrequency: cronExpression,
  timezone: timeZone.default('UTC'),
  retentionDays: z.number().int().min(1).max(36_500),
  priority: z.enum(DR_PRIORITIES).default('medium'),
  notificationTargets: notificationTargets.default([]),
  isActive: z.boolean().default(true),
};

const rtoAtLeastRpo = (
  b: { rtoMinutes?: number; rpoMinutes?: number },
  ctx: z.RefinementCtx,
): void => {
  if (b.rtoMinutes !== undefined && b.rpoMinutes !== undefined && b.rtoMinutes < b.rpoMinutes)
    ctx.addIssue({
      code: 'custom',
      path: ['rtoMinutes'],
      message: `must be at least rpoMinutes (${b.rpoMinutes}): recovery cannot be faster than the data it may lose`,
    });
};

const createBody = z.strictObject(shape).superRefine(rtoAtLeastRpo);
const patchBody = z
  .strictObject({
    name: shape.name.optional(),
    description: text(2000).nullable().optional(),
    rtoMinutes: minutes.optional(),
    rpoMinutes: minutes.optional(),
    backupFrequency: cronExpression.optional(),
    testFrequency: cronExpression.optional(),
    timezone: timeZone.optional(),
    retentionDays: shape.retentionDays.optional(),
    priority: z.enum(DR_PRIORITIES).optional(),
    notificationTargets: notificationTargets.optional(),
    isActive: z.boolean().optional(),
  })
  .superRefine(rtoAtLeastRpo)
  .refine((b) => Object.keys(b).length > 0, 'give at least one field to change');

const planSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  rtoMinutes: z.number(),
  rpoMinutes: z.number(),
  backupFrequency: z.string(),
  testFrequency: z.string(),
  timezone: z.string(),
  retentionDays: z.number(),
  priority: z.enum(DR_PRIORITIES),
  notificationTargets: z.array(z.string()),
  isActive: z.boolean(),
  nextTestAt: z.string().nullable(),
  lastTest: z.object({ id: z.string(), status: z.string(), startedAt: z.string() }).nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

async function view(deps: ApiDeps, p: DrPlan): Promise<z.infer<typeof planSchema>> {
  const [last] = await listDrTests(deps.catalog, {
    tenant: p.tenant,
    drPlanId: p.id,
    limit: 1,
    offset: 0,
  });
  return {
    ...p,
    notificationTargets: [...p.notificationTargets],
    nextTestAt: p.isActive
      ? iso(nextFireTime(p.testFrequency, p.timezone, deps.clock.now()))
      : null,
    lastTest: last
      ? { id: last.id, status: last.status, startedAt: last.startedAt.toISOString() }
      : null,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

async function requirePlan(deps: ApiDeps, tenant: string, id: string): Promise<DrPlan> {
  const found = await findDrPlan(deps.catalog, tenant, id);
  if (!found)
    throw new BacktrackError('RESOURCE_NOT_FOUND', `DR plan ${id} was not found`, {
      details: { resource: 'dr-plan', id },
    });
  return found;
}

function duplicateName(e: unknown, name: string): never {
  if (typeof e === 'object' && e !== null && (e as { code?: unknown }).code === '23505')
    throw invalidInput(`a DR plan named ${JSON.stringify(name)} exists; choose another name`, {
      in: 'body',
      path: 'name',
      message: 'already used',
    });
  throw e;
}

/** Registers the DR plan routes. */
export function drPlanRoutes(app: TypedApp, deps: ApiDeps): void {
  const one = z.object({ success: ok, drPlan: planSchema });

  app.post(
    '/v1/dr-plans',
    {
      config: { access: 'admin', audit: 'dr-plan.create' },
      schema: {
        summary: 'Create a DR plan',
        tags: ['dr'],
        querystring: tenantQuery,
        body: createBody,
        response: { 201: one },
      },
    },
    async (request, reply) => {
      const fields: DrPlanFields = request.body;
      const plan = await insertDrPlan(deps.catalog, {
        ...fields,
        id: randomUUID(),
        tenant: tenantOf(request),
        createdBy: actorOf(request),
      }).catch((e: unknown) => duplicateName(e, fields.name));
      request.auditTarget = plan.id;
      return reply.code(201).send({ success: true, drPlan: await view(deps, plan) });
    },
  );

  app.get(
    '/v1/dr-plans',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'List DR plans',
        tags: ['dr'],
        querystring: z.strictObject({ tenant: tenantParameter, ...page }),
        response: { 200: z.object({ success: ok, drPlans: z.array(planSchema) }) },
      },
    },
    async (request) => {
      const plans = await listDrPlans(deps.catalog, tenantOf(request), request.query);
      return {
        success: true as const,
        drPlans: await Promise.all(plans.map((p) => view(deps, p))),
      };
    },
  );

  app.get(
    '/v1/dr-plans/:id',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'One DR plan',
        tags: ['dr'],
        params: idParams,
        querystring: tenantQuery,
        response: { 200: one },
      },
    },
    async (request) => ({
      success: true as const,
      drPlan: await view(deps, await requirePlan(deps, tenantOf(request), request.params.id)),
    }),
  );

  app.patch(
    '/v1/dr-plans/:id',
    {
      config: { access: 'admin', audit: 'dr-plan.update' },
      schema: {
        summary: 'Change a DR plan',
        tags: ['dr'],
        params: idParams,
        querystring: tenantQuery,
        body: patchBody,
        response: { 200: one },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const current = await requirePlan(deps, tenant, request.params.id);
      const b = request.body;
      const merged: DrPlanFields = {
        name: b.name ?? current.name,
        description: b.description === undefined ? current.description : b.description,
        rtoMinutes: b.rtoMinutes ?? current.rtoMinutes,
        rpoMinutes: b.rpoMinutes ?? current.rpoMinutes,
        backupFrequency: b.backupFrequency ?? current.backupFrequency,
        testFrequency: b.testFrequency ?? current.testFrequency,
        timezone: b.timezone ?? current.timezone,
        retentionDays: b.retentionDays ?? current.retentionDays,
        priority: b.priority ?? current.priority,
        notificationTargets: b.notificationTargets ?? current.notificationTargets,
        isActive: b.isActive ?? current.isActive,
      };
      if (merged.rtoMinutes < merged.rpoMinutes)
        throw new BacktrackError(
          'VALIDATION_FAILED',
          `rtoMinutes (${merged.rtoMinutes}) must be at least rpoMinutes (${merged.rpoMinutes})`,
          {
            details: {
              problems: [
                { in: 'body', path: 'rtoMinutes', message: 'must be at least rpoMinutes' },
              ],
            },
          },
        );
      const updated = await updateDrPlan(deps.catalog, tenant, current.id, merged).catch(
        (e: unknown) => duplicateName(e, merged.name),
      );
      if (!updated)
        throw new BacktrackError('RESOURCE_NOT_FOUND', `DR plan ${current.id} was not found`);
      return { success: true as const, drPlan: await view(deps, updated) };
    },
  );

  app.delete(
    '/v1/dr-plans/:id',
    {
      config: { access: 'admin', audit: 'dr-plan.delete' },
      schema: {
        summary: 'Delete a DR plan',
        tags: ['dr'],
        params: idParams,
        querystring: tenantQuery,
        response: { 200: z.object({ success: ok, deleted: z.literal(true) }) },
      },
    },
    async (request) => {
      if (!(await deleteDrPlan(deps.catalog, tenantOf(request), request.params.id)))
        throw new BacktrackError(
          'RESOURCE_NOT_FOUND',
          `DR plan ${request.params.id} was not found`,
        );
      return { success: true as const, deleted: true as const };
    },
  );
}
