/** Public routes: /healthz, /readyz (the catalog answers), /metrics, /docs and /docs/json. */
import { z } from 'zod';

import type { Registry } from '../../../shared/metrics.js';
import type { ApiDeps } from '../context.js';

import type { TypedApp } from './index.js';

/** Registers the public routes. */
export function systemRoutes(app: TypedApp, deps: ApiDeps, registry: Registry): void {
  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: {
        summary: 'The process answers',
        tags: ['system'],
        security: [],
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    () => Promise.resolve({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { access: 'public' },
      schema: {
        summary: 'The catalog answers and is migrated',
        tags: ['system'],
        security: [],
        response: {
          200: z.object({ status: z.literal('ready') }),
          503: z.object({
            status: z.literal('unavailable'),
            checks: z.object({ catalog: z.literal('unreachable') }),
          }),
        },
      },
    },
    async (_request, reply) => {
      try {
        await deps.catalog.query('SELECT 1 FROM backtrack.jobs, backtrack.audit_log LIMIT 0');
        return { status: 'ready' as const };
      } catch (e) {
        // The caller is anonymous: the reason (addresses, SQL errors) goes to the log only.
        deps.log.warn({ err: e }, 'readyz: the catalog does not answer or is not migrated');
        return reply
          .code(503)
          .send({ status: 'unavailable' as const, checks: { catalog: 'unreachable' as const } });
      }
    },
  );

  app.get(
    '/metrics',
    { config: { access: 'public' }, schema: { hide: true } },
    async (_request, reply) =>
      reply.header('content-type', registry.contentType).send(await registry.metrics()),
  );

  const document = (): unknown => app.swagger();
  for (const url of ['/docs', '/docs/json']) {
    app.get(
      url,
      { config: { access: 'public' }, schema: { hide: true } },
      async (_request, reply) => reply.header('content-type', 'application/json').send(document()),
    );
  }
}
