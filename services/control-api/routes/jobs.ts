/** `GET /v1/jobs` and `GET /v1/jobs/:id`: long operations, their progress and results. */
import { z } from 'zod';

import { findJob, JOB_STATUSES, JOB_TYPES, listJobs } from '../../../shared/catalog/jobs.js';
import { BacktrackError } from '../../../shared/errors.js';
import { type ApiDeps, tenantOf } from '../context.js';
import { jobSchema, jobView } from '../job-view.js';
import { idParams, ok, page, tenantParameter } from '../schemas.js';

import type { TypedApp } from './index.js';

/** The job `id` of `tenant`, or RESOURCE_NOT_FOUND (also for another tenant's job). */
export async function requireJob(deps: ApiDeps, tenant: string, id: string, what = 'job') {
  const job = await findJob(deps.catalog, id);
  if (!job || job.tenant !== tenant)
    throw new BacktrackError('RESOURCE_NOT_FOUND', `${what} ${id} was not found`, {
      details: { resource: what, id },
    });
  return job;
}

/** Registers the job routes. */
export function jobRoutes(app: TypedApp, deps: ApiDeps): void {
  app.get(
    '/v1/jobs',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'List jobs, newest first',
        tags: ['jobs'],
        querystring: z.strictObject({
          tenant: tenantParameter,
          type: z.enum(JOB_TYPES).optional(),
          status: z.enum(JOB_STATUSES).optional(),
          ...page,
        }),
        response: {
          200: z.object({
            success: ok,
            jobs: z.array(jobSchema),
            limit: z.number(),
            offset: z.number(),
          }),
        },
      },
    },
    async (request) => {
      const { type, status, limit, offset } = request.query;
      const jobs = await listJobs(deps.catalog, {
        tenant: tenantOf(request),
        types: type ? [type] : undefined,
        status,
        limit,
        offset,
      });
      return { success: true as const, jobs: jobs.map(jobView), limit, offset };
    },
  );

  app.get(
    '/v1/jobs/:id',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'A job: status, progress, result or error',
        tags: ['jobs'],
        params: idParams,
        querystring: z.strictObject({ tenant: tenantParameter }),
        response: { 200: z.object({ success: ok, job: jobSchema }) },
      },
    },
    async (request) => ({
      success: true as const,
      job: jobView(await requireJob(deps, tenantOf(request), request.params.id)),
    }),
  );
}
