/**
 * `/v1/snapshots` lists the tenant's active pre-restore snapshots (what a rollback can go
 * back to); `/v1/rollbacks` previews (dryRun) or runs (a job; confirmRollback must be true;
 * admin) a rollback to one of them, and lists the rollback history with reasons and actors.
 */
import { randomUUID } from 'node:crypto';

import { z } from 'zod';

import { listSnapshots } from '../../../shared/catalog/base-snapshots.js';
import { enqueueJob } from '../../../shared/catalog/jobs.js';
import { listRestoreOperations } from '../../../shared/catalog/restore-operations.js';
import { BacktrackError } from '../../../shared/errors.js';
import { accepted, actorOf, type ApiDeps, tenantOf } from '../context.js';
import { jobSchema, jobView } from '../job-view.js';
import { hasRole } from '../principal.js';
import { restoreSummarySchema, restoreSummaryView } from '../restore-view.js';
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

import { backupSchema, backupView } from './backups.js';
import { requireJob } from './jobs.js';

import type { TypedApp } from './index.js';

const rollbackBody = z
  .strictObject({
    snapshotId: z.uuid(),
    reason: text(1000).optional(),
    dryRun: z.boolean().default(false),
    confirmRollback: z.boolean().default(false),
  })
  .superRefine((b, ctx) => {
    if (!b.dryRun && !b.confirmRollback)
      ctx.addIssue({
        code: 'custom',
        path: ['confirmRollback'],
        message: 'must be true to roll back (try dryRun: true first)',
      });
  });

/** The active pre-restore snapshots of a tenant and whether each was rolled back to. */
async function activeSnapshots(deps: ApiDeps, tenant: string) {
  const now = deps.clock.now();
  const snapshots = (
    await listSnapshots(deps.catalog, { tenant, status: 'completed', kinds: ['pre_restore'] })
  ).filter((s) => s.expiresAt === null || s.expiresAt > now);
  const rollbacks = await listRestoreOperations(deps.catalog, {
    tenant,
    kind: 'rollback',
    limit: 1000,
  });
  return snapshots.reverse().map((s) => {
    const done = rollbacks.find(
      (r) => r.rollbackOfSnapshotId === s.id && r.status === 'completed' && !r.dryRun,
    );
    return {
      ...backupView(s),
      rolledBack: done !== undefined,
      rolledBackAt: iso(done?.finishedAt),
    };
  });
}

/** Registers the snapshot and rollback routes. */
export function rollbackRoutes(app: TypedApp, deps: ApiDeps): void {
  app.get(
    '/v1/snapshots',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'Active pre-restore snapshots (what a rollback can return to)',
        tags: ['rollbacks'],
        querystring: tenantQuery,
        response: {
          200: z.object({
            success: ok,
            snapshots: z.array(
              backupSchema.extend({ rolledBack: z.boolean(), rolledBackAt: z.string().nullable() }),
            ),
          }),
        },
      },
    },
    async (request) => ({
      success: true as const,
      snapshots: await activeSnapshots(deps, tenantOf(request)),
    }),
  );

  app.post(
    '/v1/rollbacks',
    {
      config: { access: 'operator', audit: 'rollback.create', rateLimit: 'rollback' },
      schema: {
        summary: 'Roll an in-place restore back: preview (dryRun) or run (a job)',
        tags: ['rollbacks'],
        querystring: tenantQuery,
        body: rollbackBody,
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
      if (!body.dryRun && principal && !hasRole(principal.role, 'admin')) {
        throw new BacktrackError(
          'INSUFFICIENT_PERMISSIONS',
          `a rollback replaces tenant ${tenant}'s live rows and needs the admin role; the token has ${principal.role}`,
          { details: { required: 'admin', role: principal.role } },
        );
      }
      const snapshot = (await listSnapshots(deps.catalog, { tenant, kinds: ['pre_restore'] })).find(
        (s) => s.id === body.snapshotId,
      );
      if (!snapshot)
        throw new BacktrackError(
          'SNAPSHOT_NOT_FOUND',
          `pre-restore snapshot ${body.snapshotId} was not found; GET /v1/snapshots lists the ones a rollback can use`,
          { details: { snapshotId: body.snapshotId } },
        );
      if (body.dryRun) {
        const summary = await deps.engines.rollback({
          snapshotId: snapshot.id,
          confirm: false,
          dryRun: true,
          reason: body.reason,
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
        type: 'rollback',
        params: { snapshotId: snapshot.id, reason: body.reason },
        exclusive: true,
        createdBy: actorOf(request),
        requestId: request.id,
      });
      request.auditTarget = job.id;
      const location = `/v1/rollbacks/${job.id}`;
      return accepted(reply, location).send({
        success: true,
        jobId: job.id,
        status: job.status,
        location,
      });
    },
  );

  app.get(
    '/v1/rollbacks',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'Rollback history: who rolled back what, when and why',
        tags: ['rollbacks'],
        querystring: z.strictObject({ tenant: tenantParameter, limit: page.limit }),
        response: {
          200: z.object({
            success: ok,
            rollbacks: z.array(
              z.object({
                id: z.string(),
                snapshotId: z.string().nullable(),
                preRestoreSnapshotId: z.string().nullable(),
                reason: z.string().nullable(),
                actor: z.string(),
                status: z.string(),
                dryRun: z.boolean(),
                startedAt: z.string(),
                finishedAt: z.string().nullable(),
                rowsRestored: z.string().nullable(),
                error: z.string().nullable(),
              }),
            ),
          }),
        },
      },
    },
    async (request) => ({
      success: true as const,
      rollbacks: (
        await listRestoreOperations(deps.catalog, {
          tenant: tenantOf(request),
          kind: 'rollback',
          limit: request.query.limit,
        })
      ).map((r) => ({
        id: r.id,
        snapshotId: r.rollbackOfSnapshotId,
        preRestoreSnapshotId: r.preRestoreSnapshotId,
        reason: r.reason,
        actor: r.actor,
        status: r.status,
        dryRun: r.dryRun,
        startedAt: r.startedAt.toISOString(),
        finishedAt: iso(r.finishedAt),
        rowsRestored: r.rowsRestored === null ? null : r.rowsRestored.toString(),
        error: r.error,
      })),
    }),
  );

  app.get(
    '/v1/rollbacks/:id',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'A rollback job: status, progress, result',
        tags: ['rollbacks'],
        params: idParams,
        querystring: tenantQuery,
        response: { 200: z.object({ success: ok, rollback: jobSchema }) },
      },
    },
    async (request) => {
      const job = await requireJob(deps, tenantOf(request), request.params.id, 'rollback');
      if (job.type !== 'rollback')
        throw new BacktrackError(
          'RESOURCE_NOT_FOUND',
          `rollback ${request.params.id} was not found`,
        );
      return { success: true as const, rollback: jobView(job) };
    },
  );
}
