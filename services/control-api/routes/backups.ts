/**
 * `/v1/backups`: base snapshots of the tenant. POST takes one now (a job); GET lists (with
 * filters and a default limit) and shows one; DELETE removes one the retention window does
 * not need (objects first, then the catalog rows), and refuses the others with BACKUP_IN_USE.
 */
import { randomUUID } from 'node:crypto';

import { z } from 'zod';

import {
  deleteSnapshotRecord,
  requestedRetentionDays,
} from '../../../shared/catalog/backup-deletion.js';
import {
  type BaseSnapshot,
  listSnapshots,
  SNAPSHOT_KINDS,
} from '../../../shared/catalog/base-snapshots.js';
import { enqueueJob } from '../../../shared/catalog/jobs.js';
import { listSnapshotTables } from '../../../shared/catalog/snapshot-tables.js';
import { BacktrackError } from '../../../shared/errors.js';
import { formatInstant } from '../../../shared/instant.js';
import { accepted, actorOf, type ApiDeps, tenantOf } from '../context.js';
import { retentionHold } from '../retention.js';
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

import type { TypedApp } from './index.js';

/** The JSON of a backup. */
export const backupSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  kind: z.enum(SNAPSHOT_KINDS),
  status: z.enum(['running', 'completed', 'failed']),
  takenAt: z.string().nullable(),
  startedAt: z.string(),
  completedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  tables: z.number().int(),
  rows: z.string().describe('row count (decimal text: it can pass 2^53)'),
  sizeBytes: z.number(),
  encrypted: z.boolean(),
  createdBy: z.string(),
  label: z.string().nullable(),
  error: z.string().nullable(),
});

/** The view of a snapshot. */
export function backupView(s: BaseSnapshot): z.infer<typeof backupSchema> {
  return {
    id: s.id,
    tenant: s.tenant,
    kind: s.kind,
    status: s.status,
    // To the microsecond, so that it can be given back as a restore's targetTimestamp.
    takenAt: s.takenAtUs === null ? iso(s.takenAt) : formatInstant(s.takenAtUs),
    startedAt: s.startedAt.toISOString(),
    completedAt: iso(s.completedAt),
    expiresAt: iso(s.expiresAt),
    tables: s.tableCount,
    rows: s.rowCount.toString(),
    sizeBytes: s.sizeBytes,
    encrypted: s.encrypted,
    createdBy: s.createdBy,
    label: s.label,
    error: s.error,
  };
}

/** The snapshot `id` of `tenant`, or BACKUP_NOT_FOUND (also for another tenant's). */
export async function requireBackup(
  deps: ApiDeps,
  tenant: string,
  id: string,
): Promise<BaseSnapshot> {
  const found = (await listSnapshots(deps.catalog, { tenant })).find((s) => s.id === id);
  if (!found)
    throw new BacktrackError(
      'BACKUP_NOT_FOUND',
      `backup ${id} was not found; GET /v1/backups lists them`,
      {
        details: { id },
      },
    );
  return found;
}

/** Registers the backup routes. */
export function backupRoutes(app: TypedApp, deps: ApiDeps): void {
  app.post(
    '/v1/backups',
    {
      config: { access: 'operator', audit: 'backup.create', rateLimit: 'backup-create' },
      schema: {
        summary: 'Take a base snapshot of the tenant now (a job)',
        tags: ['backups'],
        querystring: tenantQuery,
        body: z.strictObject({
          kind: z.enum(['full', 'schema']).default('full'),
          label: text(200).optional(),
        }),
        response: { 202: acceptedJob },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const job = await enqueueJob(deps.catalog, {
        id: randomUUID(),
        tenant,
        type: 'snapshot',
        params: { kind: request.body.kind, label: request.body.label },
        createdBy: actorOf(request),
        requestId: request.id,
      });
      request.auditTarget = job.id;
      const location = `/v1/jobs/${job.id}`;
      return accepted(reply, location).send({
        success: true,
        jobId: job.id,
        status: job.status,
        location,
      });
    },
  );

  app.get(
    '/v1/backups',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'List base snapshots, newest first',
        tags: ['backups'],
        querystring: z.strictObject({
          tenant: tenantParameter,
          kind: z.enum(SNAPSHOT_KINDS).optional(),
          status: z.enum(['running', 'completed', 'failed']).optional(),
          ...page,
        }),
        response: {
          200: z.object({
            success: ok,
            backups: z.array(backupSchema),
            total: z.number().int(),
            limit: z.number(),
            offset: z.number(),
          }),
        },
      },
    },
    async (request) => {
      const { kind, status, limit, offset } = request.query;
      const all = (
        await listSnapshots(deps.catalog, {
          tenant: tenantOf(request),
          status,
          kinds: kind ? [kind] : undefined,
        })
      ).reverse();
      return {
        success: true as const,
        backups: all.slice(offset, offset + limit).map(backupView),
        total: all.length,
        limit,
        offset,
      };
    },
  );

  app.get(
    '/v1/backups/:id',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'One base snapshot',
        tags: ['backups'],
        params: idParams,
        querystring: tenantQuery,
        response: { 200: z.object({ success: ok, backup: backupSchema }) },
      },
    },
    async (request) => ({
      success: true as const,
      backup: backupView(await requireBackup(deps, tenantOf(request), request.params.id)),
    }),
  );

  app.delete(
    '/v1/backups/:id',
    {
      config: { access: 'admin', audit: 'backup.delete' },
      schema: {
        summary: 'Delete a base snapshot the retention window does not need',
        tags: ['backups'],
        params: idParams,
        querystring: tenantQuery,
        response: {
          200: z.object({
            success: ok,
            deleted: z.literal(true),
            objectsDeleted: z.number().int(),
          }),
        },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const snapshot = await requireBackup(deps, tenant, request.params.id);
      const all = await listSnapshots(deps.catalog, { tenant });
      const days = Math.max(
        deps.api.retentionDays,
        (await requestedRetentionDays(deps.catalog, tenant)) ?? 0,
      );
      const hold = retentionHold(snapshot, all, days, deps.clock.now());
      if (hold !== undefined) {
        throw new BacktrackError(
          'BACKUP_IN_USE',
          `backup ${snapshot.id} cannot be deleted: ${hold}`,
          {
            details: { id: snapshot.id, retentionDays: days },
          },
        );
      }
      const tables = await listSnapshotTables(deps.catalog, snapshot.id);
      const keys = [
        ...tables.flatMap((t) => (t.objectKey === null ? [] : [t.objectKey])),
        ...(snapshot.manifestKey === null ? [] : [snapshot.manifestKey]),
      ];
      const removed = await deps.store.deleteMany(keys);
      if (removed.failed.length > 0) {
        throw new BacktrackError(
          'STORAGE_UNAVAILABLE',
          `backup ${snapshot.id}: ${removed.failed.length} object(s) could not be deleted (first: ${removed.failed[0]?.key}); nothing was removed from the catalog, try again`,
          { retriable: true },
        );
      }
      if (!(await deleteSnapshotRecord(deps.catalog, tenant, snapshot.id)))
        throw new BacktrackError('BACKUP_NOT_FOUND', `backup ${snapshot.id} was not found`);
      return { success: true as const, deleted: true as const, objectsDeleted: removed.deleted };
    },
  );
}
