/**
 * The audit hooks. A mutating call (POST, PUT, PATCH, DELETE) of a known caller is written
 * ahead: once authentication, validation and its rate limit let it through, a `pending`
 * entry (actor, role, tenant, action, request id) is written before the handler runs, and
 * the handler does not run when it cannot be (503 AUDIT_UNAVAILABLE: fail closed). The
 * entry is completed with the outcome, status and target before the response leaves.
 * A known caller refused before its handler (403, 429, 400) is appended whole, as `denied`
 * or `failure`.
 *
 * A caller the API does not know (no token, or one that failed verification) acts for no
 * tenant and can send anything: those refusals are counted in
 * backtrack_api_auth_failures_total and logged, not written to the log every tenant's
 * admins read, so that nobody can flood it. Nothing of the raw URL is stored: the action
 * and path are the route's pattern.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

import {
  type AuditOutcome,
  appendAudit,
  beginAudit,
  completeAudit,
} from '../../shared/catalog/audit-log.js';
import { BacktrackError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Counter } from '../../shared/metrics.js';
import type { Queryable } from '../../shared/pg/index.js';

import { actorOf } from './context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The pending audit entry of this call, once written ahead. */
    auditId: bigint | undefined;
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Longest part of a URL that goes into a log line. */
const LOGGED_PATH_CHARS = 200;

function outcomeOf(status: number): Exclude<AuditOutcome, 'pending'> {
  if (status < 400) return 'success';
  if (status === 401 || status === 403 || status === 429) return 'denied';
  return 'failure';
}

/** The error code in a JSON error payload, if it is one. */
function errorCodeOf(payload: unknown): string | null {
  if (typeof payload !== 'string' || !payload.startsWith('{"success":false')) return null;
  const match = /"code":"([A-Z_]+)"/.exec(payload);
  return match?.[1] ?? null;
}

/** The route's pattern, e.g. `/v1/schedules/:id`; undefined for a URL no route matched. */
function routeOf(request: FastifyRequest): string | undefined {
  return request.routeOptions.config.access === undefined ? undefined : request.routeOptions.url;
}

/** Whether the call is audited: mutating, of a route, by a verified caller. */
function audited(request: FastifyRequest): boolean {
  return (
    MUTATING.has(request.method) &&
    routeOf(request) !== undefined &&
    request.routeOptions.config.access !== 'public' &&
    request.principal !== undefined
  );
}

function entryOf(request: FastifyRequest, route: string) {
  const params = request.params as Record<string, unknown> | undefined;
  const id = typeof params?.id === 'string' ? params.id : undefined;
  return {
    actor: actorOf(request),
    actorRole: request.principal?.role ?? null,
    tenant: request.tenant ?? request.principal?.tenant ?? null,
    action: request.routeOptions.config.audit ?? `${request.method} ${route}`,
    target: request.auditTarget ?? id ?? null,
    requestId: request.id,
    correlationId: request.correlationId ?? null,
    details: { method: request.method, path: route },
  };
}

/**
 * preHandler: writes the pending entry of an audited call. It runs last before the handler;
 * when the entry cannot be written the call is refused and nothing takes effect.
 */
export async function auditAhead(
  catalog: Queryable,
  log: Logger,
  request: FastifyRequest,
): Promise<void> {
  const route = routeOf(request);
  if (route === undefined || !audited(request)) return;
  try {
    // Fail closed (DESIGN §2.7): the handler runs only once its audit entry exists.
    request.auditId = await beginAudit(catalog, entryOf(request, route));
  } catch (e) {
    log.error({ err: e, requestId: request.id }, 'could not write the audit entry ahead');
    throw new BacktrackError(
      'AUDIT_UNAVAILABLE',
      `the audit log could not be written, so nothing was done; retry when the catalog is reachable (request id ${request.id})`,
    );
  }
}

/**
 * onSend: completes the pending entry, or appends the whole entry of a known caller refused
 * before its handler; counts the refusals of unknown callers. A failure to record is logged
 * and the call still answers (its pending entry, if any, says it started).
 */
export async function auditCall(
  catalog: Queryable,
  log: Logger,
  authFailures: Counter<'route'>,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): Promise<void> {
  const status = reply.statusCode;
  const route = routeOf(request);
  if (request.principal === undefined) {
    if (status === 401) {
      authFailures.inc({ route: route ?? 'unknown' });
      log.info(
        {
          requestId: request.id,
          method: request.method,
          path: request.url.slice(0, LOGGED_PATH_CHARS),
        },
        'request refused without a valid token',
      );
    }
    return;
  }
  if (route === undefined || !audited(request)) return;
  try {
    if (request.auditId !== undefined) {
      await completeAudit(catalog, request.auditId, {
        outcome: outcomeOf(status),
        statusCode: status,
        errorCode: errorCodeOf(payload),
        target: request.auditTarget ?? null,
      });
    } else {
      await appendAudit(catalog, {
        ...entryOf(request, route),
        outcome: outcomeOf(status),
        statusCode: status,
        errorCode: errorCodeOf(payload),
      });
    }
  } catch (e) {
    log.error({ err: e, requestId: request.id }, 'could not complete the audit entry');
  }
}
