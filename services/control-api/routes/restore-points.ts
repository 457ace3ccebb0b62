/** `GET /v1/restore-points`: the tenant's recoverable window and every gap in its archive. */
import { z } from 'zod';

import { restorePoints } from '../../../shared/catalog/restore-points.js';
import { txlogTopic } from '../../../shared/events/index.js';
import { type ApiDeps, tenantOf } from '../context.js';
import { iso, ok, tenantQuery } from '../schemas.js';

import type { TypedApp } from './index.js';

const windowSchema = z.object({ from: z.string(), to: z.string() });

/** Registers the restore-points route. */
export function restorePointRoutes(app: TypedApp, deps: ApiDeps): void {
  app.get(
    '/v1/restore-points',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'The recoverable window of the tenant and the gaps in its archive',
        tags: ['restores'],
        querystring: tenantQuery,
        response: {
          200: z.object({
            success: ok,
            tenant: z.string(),
            earliest: z.string().nullable(),
            latest: z.string().nullable(),
            windows: z.array(windowSchema),
            gaps: z.array(
              z.object({
                partition: z.number().int(),
                fromOffset: z.string(),
                toOffset: z.string(),
                after: z.string().nullable(),
                before: z.string().nullable(),
              }),
            ),
            snapshots: z.array(
              z.object({ id: z.string(), kind: z.string(), takenAt: z.string(), rows: z.string() }),
            ),
            segments: z.number().int(),
            lastTenantEventAt: z.string().nullable(),
          }),
        },
      },
    },
    async (request) => {
      const points = await restorePoints(
        deps.catalog,
        tenantOf(request),
        txlogTopic(deps.topicPrefix),
      );
      return {
        success: true as const,
        tenant: points.tenant,
        earliest: iso(points.earliest),
        latest: iso(points.latest),
        windows: points.windows.map((w) => ({
          from: w.from.toISOString(),
          to: w.to.toISOString(),
        })),
        gaps: points.gaps.map((g) => ({
          partition: g.partition,
          fromOffset: g.from.toString(),
          toOffset: g.to.toString(),
          after: iso(g.after),
          before: iso(g.before),
        })),
        snapshots: points.snapshots.map((s) => ({
          id: s.id,
          kind: s.kind,
          takenAt: s.takenAt.toISOString(),
          rows: s.rows.toString(),
        })),
        segments: points.segments,
        lastTenantEventAt: iso(points.lastTenantEventAt),
      };
    },
  );
}
