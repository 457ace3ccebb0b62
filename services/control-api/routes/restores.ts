/**
 * `/v1/restores`: point-in-time restores of the tenant, to an instant (`targetTimestamp`,
 * rate bucket pitr) or to a backup's instant (`backupId`, bucket restore), of every table or
 * some, into a new schema (default) or in place. A dry run answers at once with the restore
 * engine's preview; otherwise the restore is a job (202), and confirmRestore must be true.
 * An in-place restore needs the admin role; a second one while one is queued or running is
 * RESTORE_IN_PROGRESS.
 */
import { randomUUID } from 'node:crypto';

import type { FastifyRequest } from 'fastify';
import { z } from 'zod';

import { enqueueJob, listJobs } from '../../../shared/catalog/jobs.js';
import { BacktrackError } from '../../../shared/errors.js';
import { formatInstant } from '../../../shared/instant.js';
import {
  checkTargetSchema,
  defaultTargetSchema,
  targetSchemaRefused,
  tenantSchemaPrefix,
} from '../../../shared/source/restore-schema.js';
import { accepted, actorOf, type ApiDeps, tenantOf } from '../context.js';
import { jobSchema, jobView } from '../job-view.js';
import { hasRole } from '../principal.js';
import { restoreSummarySchema, restoreSummaryView } from '../restore-view.js';
import {
  acceptedJob,
  idParams,
  instant,
  ok,
  page,
  schemaName,
  tableName,
  tenantParameter,
  tenantQuery,
} from '../schemas.js';

import { requireBackup } from './backups.js';
import { requireJob } from './jobs.js';

import type { TypedApp } from './index.js';

/** The body of POST /v1/restores. */
export const restoreBody = z
  .strictObject({
    targetTimestamp: instant.optional(),
    backupId: z.uuid().optional(),
    tables: z.array(tableName).min(1).max(500).optional(),
    targetSchema: schemaName.optional(),
    inPlace: z.boolean().default(false),
    dryRun: z.boolean().default(false),
    confirmRestore: z.boolean().default(false),
  })
  .superRefine((b, ctx) => {
    if ((b.targetTimestamp === undefined) === (b.backupId === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['targetTimestamp'],
        message: 'give targetTimestamp or backupId (exactly one)',
      });
    if (b.inPlace && b.targetSchema !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['targetSchema'],
        message: 'give targetSchema or inPlace, not both',
      });
    if (!b.dryRun && !b.confirmRestore)
      ctx.addIssue({
        code: 'custom',
        path: ['confirmRestore'],
        message: 'must be true to restore (try dryRun: true first)',
      });
  });

/**
 * The schema of a restore into a new schema, checked before anything runs: a tenant-level
 * role names one in its tenant's namespace only (so nothing is learnt about another
 * tenant's schemas), and none that exists or is reserved (DESIGN §2.9).
 */
async function targetSchema(
  deps: ApiDeps,
  request: FastifyRequest,
  tenant: string,
  given: string | undefined,
): Promise<string> {
  const schema = given ?? defaultTargetSchema(tenant, deps.clock.now());
  const prefix = tenantSchemaPrefix(tenant);
  if (request.principal?.role !== 'platform-admin' && !schema.startsWith(prefix)) {
    const problem = `must start with ${prefix}, the namespace of tenant ${tenant}'s restores (e.g. ${prefix}before_incident)`;
    throw targetSchemaRefused(schema, problem);
  }
  await checkTargetSchema(deps.source, schema);
  return schema;
}

/** Registers the restore routes. */
export function restoreRoutes(app: TypedApp, deps: ApiDeps): void {
  app.post(
    '/v1/restores',
    {
      config: {
        access: 'operator',
        audit: 'restore.create',
        rateLimit: (request) =>
          (request.body as { backupId?: string }).backupId ? 'restore' : 'pitr',
      },
      schema: {
        summary: 'Restore the tenant to an instant: preview (dryRun) or run (a job)',
        tags: ['restores'],
        querystring: tenantQuery,
        body: restoreBody,
        response: {
          200: z.object({ success: ok, dryRun: z.literal(true), preview: restoreSummarySchema }),
          202: acceptedJob,
        },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const body = request.body;
      const principal = request.principal;
      if (body.inPlace && !body.dryRun && principal && !hasRole(principal.role, 'admin')) {
        throw new BacktrackError(
          'INSUFFICIENT_PERMISSIONS',
          `an in-place restore replaces tenant ${tenant}'s live rows and needs the admin role; the token has ${principal.role} (restore into a schema instead)`,
          { details: { required: 'admin', role: principal.role } },
        );
      }
      let target = body.targetTimestamp;
      if (body.backupId !== undefined) {
        const backup = await requireBackup(deps, tenant, body.backupId);
        if (backup.status !== 'completed' || backup.takenAtUs === null)
          throw new BacktrackError(
            'BACKUP_NOT_FOUND',
            `backup ${backup.id} is not a completed backup`,
          );
        // The backup's exact instant, to the microsecond: a millisecond value lies before it.
        target = formatInstant(backup.takenAtUs);
      }
      const mode = body.inPlace
        ? ({ kind: 'in-place', confirm: body.confirmRestore } as const)
        : ({
            kind: 'schema',
            schema: await targetSchema(deps, request, tenant, body.targetSchema),
          } as const);
      if (body.dryRun) {
        const summary = await deps.engines.restore({
          tenant,
          target: target ?? '',
          tables: body.tables,
          mode,
          dryRun: true,
          actor: actorOf(request),
        });
        request.auditTarget = summary.id;
        return reply
          .code(200)
          .send({ success: true, dryRun: true, preview: restoreSummaryView(summary) });
      }
      const job = await enqueueJob(deps.catalog, {
        id: randomUUID(),
        tenant,
        type: 'restore',
        params: { target, tables: body.tables, mode },
        exclusive: true,
        createdBy: actorOf(request),
        requestId: request.id,
      });
      request.auditTarget = job.id;
      const location = `/v1/restores/${job.id}`;
      return accepted(reply, location).send({
        success: true,
        jobId: job.id,
        status: job.status,
        location,
      });
    },
  );

  app.get(
    '/v1/restores',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'Restore jobs of the tenant, newest first',
        tags: ['restores'],
        querystring: z.strictObject({ tenant: tenantParameter, ...page }),
        response: { 200: z.object({ success: ok, restores: z.array(jobSchema) }) },
      },
    },
    async (request) => ({
      success: true as const,
      restores: (
        await listJobs(deps.catalog, {
          tenant: tenantOf(request),
          types: ['restore'],
          limit: request.query.limit,
          offset: request.query.offset,
        })
      ).map(jobView),
    }),
  );

  app.get(
    '/v1/restores/:id',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'A restore: status, progress, stats and the pre-restore snapshot',
        tags: ['restores'],
        params: idParams,
        querystring: tenantQuery,
        response: {
          200: z.object({
            success: ok,
            restore: jobSchema,
            preRestoreSnapshotId: z.string().nullable(),
          }),
        },
      },
    },
    async (request) => {
      const job = await requireJob(deps, tenantOf(request), request.params.id, 'restore');
      if (job.type !== 'restore')
        throw new BacktrackError(
          'RESOURCE_NOT_FOUND',
          `restore ${request.params.id} was not found`,
        );
      const result = restoreSummarySchema.partial().safeParse(job.result);
      return {
        success: true as const,
        restore: jobView(job),
        preRestoreSnapshotId: result.success ? (result.data.preRestoreSnapshotId ?? null) : null,
      };
    },
  );
}
