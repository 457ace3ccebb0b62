/**
 * The HTTP server of the control API: fastify with zod schemas (fastify-type-provider-zod)
 * for every request and response, the OpenAPI document generated from them at /docs (and
 * /docs/json), /healthz, /readyz (the catalog answers) and Prometheus /metrics. The hooks
 * carry the rules every route shares, in order:
 *   1. onRequest: a request id; a route without an access declaration answers 404 (deny by
 *      default); otherwise the bearer token (401), the role (403) and the tenant (404 for
 *      another tenant's id);
 *   2. validation of params, query and body by the route's zod schemas (400);
 *   3. preHandler: the rate limit of the route's bucket, counted in the catalog (429);
 *   4. onSend: the audit log entry of a mutating call, before the response leaves.
 */
import { randomUUID } from 'node:crypto';

import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';

import { BacktrackError } from '../../shared/errors.js';
import { Counter, createRegistry, Histogram, type Registry } from '../../shared/metrics.js';

import { auditCall } from './audit.js';
import type { ApiDeps } from './context.js';
import { sendError, toBacktrackError } from './http-errors.js';
import { hasRole, type TokenVerifier } from './principal.js';
import { enforceRateLimit } from './rate-limit.js';
import { registerRoutes } from './routes/index.js';

/** The fastify instance with the zod type provider. */
export type Api = FastifyInstance & ReturnType<FastifyInstance['withTypeProvider']>;

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,100}$/;
const isTenantParameter = (value: unknown): value is string =>
  typeof value === 'string' &&
  value.length > 0 &&
  value.length <= 200 &&
  ![...value].some((ch) => ch.charCodeAt(0) < 0x20);

function queryTenant(request: FastifyRequest): unknown {
  const query = request.query as Record<string, unknown> | undefined;
  return query?.tenant;
}

/** Verifies the caller and resolves the tenant the request acts for. */
async function authorize(request: FastifyRequest, verifier: TokenVerifier): Promise<void> {
  const access = request.routeOptions.config.access;
  if (access === undefined) {
    // Deny by default: a route that declares nobody is reachable by nobody.
    throw new BacktrackError('RESOURCE_NOT_FOUND', `no route ${request.method} ${request.url}`);
  }
  if (access === 'public') return;
  const principal = await verifier.verify(request.headers.authorization);
  request.principal = principal;
  if (!hasRole(principal.role, access)) {
    throw new BacktrackError(
      'INSUFFICIENT_PERMISSIONS',
      `${request.method} ${request.routeOptions.url ?? request.url} needs the ${access} role; the token has ${principal.role}`,
      { details: { required: access, role: principal.role } },
    );
  }
  const named = queryTenant(request);
  if (principal.role === 'platform-admin') {
    if (!isTenantParameter(named)) {
      throw new BacktrackError(
        'VALIDATION_FAILED',
        'a platform-admin names the tenant it acts for: add ?tenant=<id>',
        { details: { problems: [{ in: 'querystring', path: 'tenant', message: 'required' }] } },
      );
    }
    request.tenant = named;
    return;
  }
  if (named !== undefined && named !== principal.tenant) {
    // Another tenant's id answers exactly like an unknown one.
    throw new BacktrackError('TENANT_NOT_FOUND', `tenant ${JSON.stringify(named)} was not found`);
  }
  request.tenant = principal.tenant;
}

/** HTTP metrics of the API. */
function httpMetrics(registry: Registry): {
  requests: Counter<'route' | 'method' | 'status'>;
  seconds: Histogram<'route' | 'method'>;
} {
  return {
    requests: new Counter({
      name: 'backtrack_api_requests_total',
      help: 'HTTP requests answered by the control API',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    seconds: new Histogram({
      name: 'backtrack_api_request_seconds',
      help: 'Time to answer an HTTP request of the control API',
      labelNames: ['route', 'method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}

/** Builds the API (not listening yet). */
export async function buildApi(
  deps: ApiDeps,
  verifier: TokenVerifier,
  registry: Registry = createRegistry('backtrack_api_'),
): Promise<FastifyInstance> {
  const log = deps.log.child({ component: 'control-api' });
  const app = Fastify({
    logger: false,
    bodyLimit: deps.api.bodyLimitBytes,
    genReqId: (raw) => {
      const given = raw.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    routerOptions: { maxParamLength: 200 },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('principal', undefined);
  app.decorateRequest('tenant', undefined);
  app.decorateRequest('auditTarget', undefined);

  const metrics = httpMetrics(registry);
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('X-Request-Id', request.id);
    await authorize(request, verifier);
  });
  app.addHook('preHandler', async (request, reply) => {
    const rule = request.routeOptions.config.rateLimit;
    const bucket = typeof rule === 'function' ? rule(request) : rule;
    if (bucket === undefined || request.tenant === undefined) return;
    await enforceRateLimit(
      deps.catalog,
      { perWindow: deps.api.rateLimits, windowSeconds: deps.api.rateWindowSeconds },
      request.tenant,
      bucket,
      reply,
    );
  });
  app.addHook('onSend', async (request, reply, payload) => {
    await auditCall(deps.catalog, log, request, reply, payload);
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.seconds.observe({ route, method: request.method }, reply.elapsedTime / 1000);
  });
  app.setErrorHandler(async (error, request, reply) => {
    return sendError(reply, toBacktrackError(error, request, log));
  });
  app.setNotFoundHandler(async (request, reply) => {
    return sendError(
      reply,
      new BacktrackError(
        'RESOURCE_NOT_FOUND',
        `no route ${request.method} ${request.url.split('?')[0] ?? ''}; GET /docs lists them`,
      ),
    );
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Backtrack control API',
        description:
          'Point-in-time restores, rollbacks, backups, schedules, DR plans and tests, health and audit, per tenant.',
        version: '1',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  const typed = app.withTypeProvider<ZodTypeProvider>();
  registerRoutes(typed, deps, registry);
  await app.ready();
  return app;
}
