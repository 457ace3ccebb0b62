/**
 * `/v1/schedules`: cron schedules (with a time zone) that create snapshot, verify, DR-test
 * or compaction jobs for the tenant, with retention days, max backups and notification
 * targets; answers show the next and last run. Changing the cron or time zone recomputes
 * the next run.
 */
import { randomUUID } from 'node:crypto';

import { z } from 'zod';

import { findDrPlan } from '../../../shared/catalog/dr-plans.js';
import { VALIDATION_LEVELS } from '../../../shared/catalog/dr-tests.js';
import {
  deleteSchedule,
  findSchedule,
  insertSchedule,
  listSchedules,
  SCHEDULE_JOB_TYPES,
  type Schedule,
  type ScheduleFields,
  updateSchedule,
} from '../../../shared/catalog/schedules.js';
import { BacktrackError, invalidInput } from '../../../shared/errors.js';
import { actorOf, type ApiDeps, tenantOf } from '../context.js';
import { fireInterval, nextFireTime } from '../cron.js';
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

const scheduleParams = z.strictObject({
  kind: z.enum(['full', 'schema']).optional(),
  validationLevel: z.enum(VALIDATION_LEVELS).optional(),
  drPlanId: z.uuid().optional(),
  testName: text(200).optional(),
});

const fields = {
  name: text(100),
  cron: cronExpression,
  timezone: timeZone.default('UTC'),
  jobType: z.enum(SCHEDULE_JOB_TYPES),
  params: scheduleParams.default({}),
  enabled: z.boolean().default(true),
  retentionDays: z.number().int().min(1).max(36_500).nullable().default(null),
  maxBackups: z.number().int().min(1).max(100_000).nullable().default(null),
  notificationTargets: notificationTargets.default([]),
};

const createBody = z.strictObject(fields);
const patchBody = z
  .strictObject({
    name: fields.name.optional(),
    cron: fields.cron.optional(),
    timezone: timeZone.optional(),
    jobType: fields.jobType.optional(),
    params: scheduleParams.optional(),
    enabled: z.boolean().optional(),
    retentionDays: z.number().int().min(1).max(36_500).nullable().optional(),
    maxBackups: z.number().int().min(1).max(100_000).nullable().optional(),
    notificationTargets: notificationTargets.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'give at least one field to change');

const scheduleSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  name: z.string(),
  cron: z.string(),
  timezone: z.string(),
  jobType: z.enum(SCHEDULE_JOB_TYPES),
  params: z.unknown(),
  enabled: z.boolean(),
  retentionDays: z.number().nullable(),
  maxBackups: z.number().nullable(),
  notificationTargets: z.array(z.string()),
  nextRunAt: z.string().nullable(),
  lastRunAt: z.string().nullable(),
  lastJobId: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

function view(s: Schedule): z.infer<typeof scheduleSchema> {
  return {
    ...s,
    notificationTargets: [...s.notificationTargets],
    nextRunAt: iso(s.nextRunAt),
    lastRunAt: iso(s.lastRunAt),
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

const cronRefused = (f: ScheduleFields, message: string): BacktrackError =>
  invalidInput(`cron ${JSON.stringify(f.cron)} in ${f.timezone}: ${message}`, {
    in: 'body',
    path: 'cron',
    message,
  });

/**
 * The next run. The cron expression must also parse in the schedule's own time zone, and
 * fire no more often than the minimum interval: a schedule queues real work (a snapshot
 * reads every row of the tenant), outside the rate limits of the on-demand endpoints.
 */
function nextRun(deps: ApiDeps, f: ScheduleFields): Date | null {
  const now = deps.clock.now();
  let interval: number | undefined;
  let next: Date | null;
  try {
    interval = fireInterval(f.cron, f.timezone, now, 60);
    next = nextFireTime(f.cron, f.timezone, now);
  } catch (e) {
    throw cronRefused(f, String(e));
  }
  const least = deps.api.minScheduleIntervalSeconds;
  if (interval !== undefined && interval < least * 1000)
    throw cronRefused(
      f,
      `fires every ${interval / 1000} s, more often than the ${least} s a schedule may (BACKTRACK_API_MIN_SCHEDULE_INTERVAL_SECONDS)`,
    );
  return f.enabled ? next : null;
}

/** A DR plan named in the params must be one of the tenant's (another's answers like none). */
async function checkPlan(deps: ApiDeps, tenant: string, f: ScheduleFields): Promise<void> {
  const params = z.object({ drPlanId: z.string().optional() }).safeParse(f.params);
  const id = params.success ? params.data.drPlanId : undefined;
  if (id === undefined || (await findDrPlan(deps.catalog, tenant, id))) return;
  throw new BacktrackError('RESOURCE_NOT_FOUND', `DR plan ${id} was not found`, {
    details: { resource: 'dr-plan', id },
  });
}

async function requireSchedule(deps: ApiDeps, tenant: string, id: string): Promise<Schedule> {
  const found = await findSchedule(deps.catalog, tenant, id);
  if (!found)
    throw new BacktrackError('RESOURCE_NOT_FOUND', `schedule ${id} was not found`, {
      details: { resource: 'schedule', id },
    });
  return found;
}

function duplicateName(e: unknown, name: string): never {
  if (typeof e === 'object' && e !== null && (e as { code?: unknown }).code === '23505')
    throw invalidInput(`a schedule named ${JSON.stringify(name)} exists; choose another name`, {
      in: 'body',
      path: 'name',
      message: 'already used',
    });
  throw e;
}

/** Registers the schedule routes. */
export function scheduleRoutes(app: TypedApp, deps: ApiDeps): void {
  const one = z.object({ success: ok, schedule: scheduleSchema });

  app.post(
    '/v1/schedules',
    {
      config: { access: 'admin', audit: 'schedule.create' },
      schema: {
        summary: 'Create a schedule',
        tags: ['schedules'],
        querystring: tenantQuery,
        body: createBody,
        response: { 201: one },
      },
    },
    async (request, reply) => {
      const f: ScheduleFields = request.body;
      await checkPlan(deps, tenantOf(request), f);
      const schedule = await insertSchedule(deps.catalog, {
        ...f,
        id: randomUUID(),
        tenant: tenantOf(request),
        createdBy: actorOf(request),
        nextRunAt: nextRun(deps, f),
      }).catch((e: unknown) => duplicateName(e, f.name));
      request.auditTarget = schedule.id;
      return reply.code(201).send({ success: true, schedule: view(schedule) });
    },
  );

  app.get(
    '/v1/schedules',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'List schedules',
        tags: ['schedules'],
        querystring: z.strictObject({ tenant: tenantParameter, ...page }),
        response: { 200: z.object({ success: ok, schedules: z.array(scheduleSchema) }) },
      },
    },
    async (request) => ({
      success: true as const,
      schedules: (
        await listSchedules(deps.catalog, {
          tenant: tenantOf(request),
          limit: request.query.limit,
          offset: request.query.offset,
        })
      ).map(view),
    }),
  );

  app.get(
    '/v1/schedules/:id',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'One schedule',
        tags: ['schedules'],
        params: idParams,
        querystring: tenantQuery,
        response: { 200: one },
      },
    },
    async (request) => ({
      success: true as const,
      schedule: view(await requireSchedule(deps, tenantOf(request), request.params.id)),
    }),
  );

  app.patch(
    '/v1/schedules/:id',
    {
      config: { access: 'admin', audit: 'schedule.update' },
      schema: {
        summary: 'Change a schedule',
        tags: ['schedules'],
        params: idParams,
        querystring: tenantQuery,
        body: patchBody,
        response: { 200: one },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const current = await requireSchedule(deps, tenant, request.params.id);
      const merged: ScheduleFields = {
        name: request.body.name ?? current.name,
        cron: request.body.cron ?? current.cron,
        timezone: request.body.timezone ?? current.timezone,
        jobType: request.body.jobType ?? current.jobType,
        params: request.body.params ?? current.params,
        enabled: request.body.enabled ?? current.enabled,
        retentionDays:
          request.body.retentionDays === undefined
            ? current.retentionDays
            : request.body.retentionDays,
        maxBackups:
          request.body.maxBackups === undefined ? current.maxBackups : request.body.maxBackups,
        notificationTargets: request.body.notificationTargets ?? current.notificationTargets,
      };
      await checkPlan(deps, tenant, merged);
      const timing =
        merged.cron !== current.cron ||
        merged.timezone !== current.timezone ||
        merged.enabled !== current.enabled;
      const updated = await updateSchedule(deps.catalog, tenant, current.id, {
        ...merged,
        nextRunAt: timing ? nextRun(deps, merged) : current.nextRunAt,
      }).catch((e: unknown) => duplicateName(e, merged.name));
      if (!updated)
        throw new BacktrackError('RESOURCE_NOT_FOUND', `schedule ${current.id} was not found`);
      return { success: true as const, schedule: view(updated) };
    },
  );

  app.delete(
    '/v1/schedules/:id',
    {
      config: { access: 'admin', audit: 'schedule.delete' },
      schema: {
        summary: 'Delete a schedule',
        tags: ['schedules'],
        params: idParams,
        querystring: tenantQuery,
        response: { 200: z.object({ success: ok, deleted: z.literal(true) }) },
      },
    },
    async (request) => {
      if (!(await deleteSchedule(deps.catalog, tenantOf(request), request.params.id)))
        throw new BacktrackError(
          'RESOURCE_NOT_FOUND',
          `schedule ${request.params.id} was not found`,
        );
      return { success: true as const, deleted: true as const };
    },
  );
}
