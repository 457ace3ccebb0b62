/** How a job looks in API answers. */
import { z } from 'zod';

import { JOB_STATUSES, JOB_TYPES, type Job } from '../../shared/catalog/jobs.js';

import { iso } from './schemas.js';

/** The JSON of a job. */
export const jobSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  type: z.enum(JOB_TYPES),
  status: z.enum(JOB_STATUSES),
  params: z.unknown(),
  progress: z.unknown(),
  result: z.unknown(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  attempts: z.number().int(),
  scheduleId: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});

/** A job as the API shows it. */
export type JobView = z.infer<typeof jobSchema>;

/** The view of `job`. */
export function jobView(job: Job): JobView {
  return {
    id: job.id,
    tenant: job.tenant,
    type: job.type,
    status: job.status,
    params: job.params,
    progress: job.progress,
    result: job.result,
    error:
      job.status === 'failed' || job.error !== null
        ? { code: job.errorCode ?? 'INTERNAL', message: job.error ?? '' }
        : null,
    attempts: job.attempts,
    scheduleId: job.scheduleId,
    createdBy: job.createdBy,
    createdAt: job.createdAt.toISOString(),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
  };
}
