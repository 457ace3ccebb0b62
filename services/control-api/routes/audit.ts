/**
 * `/v1/audit`: the tenant's audit log, filtered and paged by a keyset cursor (`after`), and
 * `/v1/audit/export`: a period as JSON lines or CSV, streamed. Admins only.
 */
import { Readable } from 'node:stream';

import { z } from 'zod';

import { AUDIT_OUTCOMES, queryAudit, streamAudit } from '../../../shared/catalog/audit-log.js';
import { EXPORT_FORMATS, exportLines } from '../audit-export.js';
import { type ApiDeps, tenantOf } from '../context.js';
import { instant, ok, page, tenantParameter } from '../schemas.js';

import type { TypedApp } from './index.js';

const filterFields = {
  tenant: tenantParameter,
  from: instant.optional().describe('Start of the period (inclusive)'),
  to: instant.optional().describe('End of the period (exclusive)'),
  action: z.string().max(100).optional(),
  actor: z.string().max(300).optional(),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
};

const entrySchema = z.object({
  id: z.string(),
  at: z.string(),
  actor: z.string(),
  actorRole: z.string().nullable(),
  tenant: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  requestId: z.string().describe("The server's id of the call (its X-Request-Id answer header)"),
  correlationId: z.string().nullable().describe('The X-Request-Id the client sent, if any'),
  outcome: z
    .enum(AUDIT_OUTCOMES)
    .describe('pending: the call started and its end was not recorded'),
  statusCode: z.number().int(),
  errorCode: z.string().nullable(),
});

const date = (text: string | undefined): Date | undefined =>
  text === undefined ? undefined : new Date(text);

/** Registers the audit routes. */
export function auditRoutes(app: TypedApp, deps: ApiDeps): void {
  app.get(
    '/v1/audit',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Audit entries of the tenant, oldest first, paged with `after`',
        tags: ['audit'],
        querystring: z.strictObject({
          ...filterFields,
          after: z
            .string()
            .regex(/^\d{1,18}$/, 'must be the id of an entry')
            .optional(),
          limit: page.limit,
        }),
        response: {
          200: z.object({
            success: ok,
            entries: z.array(entrySchema),
            next: z.string().nullable(),
          }),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const entries = await queryAudit(
        deps.catalog,
        {
          tenant: tenantOf(request),
          from: date(q.from),
          to: date(q.to),
          action: q.action,
          actor: q.actor,
          outcome: q.outcome,
        },
        { afterId: q.after === undefined ? undefined : BigInt(q.after), limit: q.limit },
      );
      return {
        success: true as const,
        entries: entries.map((e) => ({ ...e, id: e.id.toString(), at: e.at.toISOString() })),
        next: entries.length === q.limit ? (entries.at(-1)?.id.toString() ?? null) : null,
      };
    },
  );

  app.get(
    '/v1/audit/export',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Compliance export of a period: JSON lines or CSV, streamed',
        tags: ['audit'],
        querystring: z
          .strictObject({
            ...filterFields,
            from: instant,
            to: instant,
            format: z.enum(EXPORT_FORMATS).default('jsonl'),
          })
          .refine((q) => Date.parse(q.from) < Date.parse(q.to), {
            message: 'from must be before to',
            path: ['to'],
          }),
      },
    },
    async (request, reply) => {
      const q = request.query;
      const entries = streamAudit(deps.catalog, {
        tenant: tenantOf(request),
        from: new Date(q.from),
        to: new Date(q.to),
        action: q.action,
        actor: q.actor,
        outcome: q.outcome,
      });
      const name = `audit-${tenantOf(request).replace(/[^A-Za-z0-9_-]/g, '_')}-${q.from.slice(0, 10)}-${q.to.slice(0, 10)}.${q.format}`;
      return reply
        .header(
          'content-type',
          q.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
        )
        .header('content-disposition', `attachment; filename="${name}"`)
        .send(Readable.from(exportLines(entries, q.format)));
    },
  );
}
