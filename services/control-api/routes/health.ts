/** `GET /v1/health` (score, its parts, lag, RPO/RTO compliance, recommendations) and `GET /v1/stats`. */
import { z } from 'zod';

import { backupStatistics } from '../../../shared/catalog/health-inputs.js';
import { type ApiDeps, tenantOf } from '../context.js';
import { healthReport } from '../health-report.js';
import { ok, tenantParameter } from '../schemas.js';

import type { TypedApp } from './index.js';

const days = z.coerce.number().int().min(1).max(365).default(30);
const partSchema = z.object({
  points: z.number(),
  max: z.number(),
  ratio: z.number().nullable(),
  detail: z.string(),
});

/** Registers the health and statistics routes. */
export function healthRoutes(app: TypedApp, deps: ApiDeps): void {
  app.get(
    '/v1/health',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'Health score 0–100 and its parts, lag, RPO/RTO compliance, recommendations',
        tags: ['health'],
        querystring: z.strictObject({ tenant: tenantParameter, days }),
        response: {
          200: z.object({
            success: ok,
            tenant: z.string(),
            at: z.string(),
            periodDays: z.number(),
            score: z.number().int(),
            parts: z.object({
              successRate: partSchema,
              recency: partSchema,
              scheduleCompliance: partSchema,
              storageEfficiency: partSchema,
            }),
            lag: z.object({
              slotActive: z.boolean().nullable(),
              slotLagBytes: z.number().nullable(),
              captureSecondsBehind: z.number().nullable(),
              archiverLagRecords: z.number().nullable(),
              archiverSecondsBehind: z.number().nullable(),
            }),
            plans: z.array(
              z.object({
                drPlanId: z.string(),
                name: z.string(),
                rpoMinutes: z.number(),
                rpoExposureSeconds: z.number().nullable(),
                rpoMet: z.boolean().nullable(),
                rtoMinutes: z.number(),
                measuredRtoSeconds: z.number().nullable(),
                rtoMet: z.boolean().nullable(),
              }),
            ),
            recommendations: z.array(z.string()),
          }),
        },
      },
    },
    async (request) => {
      const report = await healthReport(deps, tenantOf(request), request.query.days);
      return {
        success: true as const,
        ...report,
        plans: [...report.plans],
        recommendations: [...report.recommendations],
      };
    },
  );

  app.get(
    '/v1/stats',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'Backup, restore and DR-test statistics of a period',
        tags: ['health'],
        querystring: z.strictObject({ tenant: tenantParameter, days }),
        response: {
          200: z.object({
            success: ok,
            periodDays: z.number(),
            totalBackups: z.number(),
            successfulBackups: z.number(),
            failedBackups: z.number(),
            totalSizeBytes: z.number(),
            avgDurationSeconds: z.number().nullable(),
            restores: z.number(),
            rollbacks: z.number(),
            drTests: z.number(),
            drTestsPassed: z.number(),
          }),
        },
      },
    },
    async (request) => {
      const since = new Date(deps.clock.nowMs() - request.query.days * 86_400_000);
      return {
        success: true as const,
        periodDays: request.query.days,
        ...(await backupStatistics(deps.catalog, tenantOf(request), since)),
      };
    },
  );
}
