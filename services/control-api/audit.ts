/**
 * The audit hook: every mutating call (POST, PUT, PATCH, DELETE) is appended to the audit
 * log before its response leaves: actor, role, tenant, action, target, request id, outcome
 * and status. Refusals (401, 403, 429, 400) are recorded too, as `denied` or `failure`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

import { type AuditOutcome, appendAudit } from '../../shared/catalog/audit-log.js';
import type { Logger } from '../../shared/logging.js';
import type { Queryable } from '../../shared/pg/index.js';

import { actorOf } from './context.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function outcomeOf(status: number): AuditOutcome {
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

/** Records a mutating call; a failure to record is logged and the call still answers. */
export async function auditCall(
  catalog: Queryable,
  log: Logger,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): Promise<void> {
  if (!MUTATING.has(request.method)) return;
  const status = reply.statusCode;
  const params = request.params as Record<string, unknown> | undefined;
  const id = typeof params?.id === 'string' ? params.id : undefined;
  const route = request.routeOptions.url ?? request.url.split('?')[0] ?? '';
  try {
    await appendAudit(catalog, {
      actor: actorOf(request),
      actorRole: request.principal?.role ?? null,
      tenant: request.tenant ?? request.principal?.tenant ?? null,
      action: request.routeOptions.config.audit ?? `${request.method} ${route}`,
      target: request.auditTarget ?? id ?? null,
      requestId: request.id,
      outcome: outcomeOf(status),
      statusCode: status,
      errorCode: errorCodeOf(payload),
      details: { method: request.method, path: route },
    });
  } catch (e) {
    log.error({ err: e, requestId: request.id }, 'could not append to the audit log');
  }
}
