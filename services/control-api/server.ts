/**
 * The HTTP server of the control API: fastify with zod schemas (fastify-type-provider-zod)
 * for every request and response, the OpenAPI document generated from them at /docs (and
 * /docs/json), /healthz, /readyz (the catalog answers) and Prometheus /metrics. The hooks
 * carry the rules every route shares, in order:
 *   1. onRequest: a request id of the server's own (a client's X-Request-Id is kept as the
 *      correlation id); a route without an access declaration answers 404 (deny by
 *      default); otherwise the bearer token (401), the role (403) and the tenant (404 for
 *      another tenant's id);
 *   2. preValidation: text Postgres cannot store (NUL, lone surrogates) anywhere in params,
 *      query or body (400); then validation by the route's zod schemas (400);
 *   3. preHandler: the rate limit of the route's bucket, counted in the catalog (429); then
 *      the audit entry of a mutating call, written ahead (503 when it cannot be: the
 *      handler never runs unaudited);
 *   4. onSend: the audit entry completed, before the response leaves.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';

import { BacktrackError, ERROR_CODES, invalidInput } from '../../shared/errors.js';
import { Counter, createRegistry, Histogram, type Registry } from '../../shared/metrics.js';

import { auditAhead, auditCall } from './audit.js';
import { findBadText, isPlainName } from './bad-text.js';
import type { ApiDeps } from './context.js';
import { errorBody, sendError, toBacktrackError } from './http-errors.js';
import { hasRole, type TokenVerifier } from './principal.js';
import { enforceRateLimit } from './rate-limit.js';
import { registerRoutes } from './routes/index.js';

/** The fastify instance with the zod type provider. */
export type Api = FastifyInstance & ReturnType<FastifyInstance['withTypeProvider']>;

/** A client's X-Request-Id worth keeping as the correlation id. */
const CORRELATION_ID = /^[A-Za-z0-9._:-]{8,100}$/;
/**
 * Longest path parameter the router takes. Past any URL Node's HTTP parser accepts, so the
 * router never refuses one itself (with fastify's own 414 body, before authentication):
 * a long parameter reaches the route's schema and is a 400 like any other bad value.
 */
const MAX_PARAM_LENGTH = 65_536;
const isTenantParameter = (value: unknown): value is string =>
  typeof value === 'string' && isPlainName(value);

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
      throw invalidInput('a platform-admin names the tenant it acts for: add ?tenant=<id>', {
        in: 'querystring',
        path: 'tenant',
        message: 'required',
      });
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

/** The refusal of a request with text Postgres cannot store in params, query or body. */
function badTextError(request: FastifyRequest): BacktrackError | undefined {
  for (const [where, value] of [
    ['params', request.params],
    ['querystring', request.query],
    ['body', request.body],
  ] as const) {
    const bad = findBadText(value);
    if (bad === undefined) continue;
    return invalidInput(`the ${where} is invalid: ${bad.path}: ${bad.message}`, {
      in: where,
      ...bad,
    });
  }
  return undefined;
}

/**
 * Node's refusals before a request exists (headers past its limit, a URL longer than 16 KB,
 * a malformed request line, a timeout), written in the API's envelope with a request id
 * instead of fastify's own body. The connection is closed, as Node does.
 */
function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const refusal =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new BacktrackError(
          'HEADERS_TOO_LARGE',
          'the request line and headers are larger than this server reads (16 KB): send a shorter URL or fewer headers',
        )
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new BacktrackError('REQUEST_TIMEOUT', 'the request did not arrive in time; send it again')
        : new BacktrackError('VALIDATION_FAILED', 'the request is not valid HTTP');
  const status = ERROR_CODES[refusal.code].httpStatus;
  const body = JSON.stringify(errorBody(refusal.code, refusal.message));
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${randomUUID()}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  socket.destroy(error);
}

/** HTTP metrics of the API. */
function httpMetrics(registry: Registry): {
  requests: Counter<'route' | 'method' | 'status'>;
  seconds: Histogram<'route' | 'method'>;
  authFailures: Counter<'route'>;
} {
  return {
    authFailures: new Counter({
      name: 'backtrack_api_auth_failures_total',
      help: 'Requests refused because they carried no valid bearer token (not in the audit log)',
      labelNames: ['route'],
      registers: [registry],
    }),
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
    // The request id is always the server's: a client's id could repeat another call's.
    genReqId: () => randomUUID(),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    clientErrorHandler,
    // A URL the router cannot decode answers in the API's envelope, with a request id.
    frameworkErrors: (error, request, reply) => {
      void reply.header('X-Request-Id', request.id);
      void sendError(
        reply,
        invalidInput(`the URL is invalid: ${error.message}`, {
          in: 'url',
          path: '(root)',
          message: error.message,
        }),
      );
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('principal', undefined);
  app.decorateRequest('tenant', undefined);
  app.decorateRequest('auditTarget', undefined);
  app.decorateRequest('auditId', undefined);
  app.decorateRequest('correlationId', undefined);

  const metrics = httpMetrics(registry);
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('X-Request-Id', request.id);
    const given = request.headers['x-request-id'];
    if (typeof given === 'string' && CORRELATION_ID.test(given)) {
      request.correlationId = given;
      void reply.header('X-Correlation-Id', given);
    }
    await authorize(request, verifier);
  });
  app.addHook('preValidation', (request, _reply, done) => {
    done(badTextError(request));
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
  // Registered after the rate limit: the last step before the handler.
  app.addHook('preHandler', async (request) => {
    await auditAhead(deps.catalog, log, request);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    await auditCall(deps.catalog, log, metrics.authFailures, request, reply, payload);
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
