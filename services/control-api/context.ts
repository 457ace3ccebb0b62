/**
 * What every route declares and receives. A route declares its `access` (the least role, or
 * `public` for health, metrics and docs); a route without one is not reachable (deny by
 * default). Tenant-scoped routes get the tenant the caller may act for: the token's, or for
 * a platform-admin the `tenant` query parameter. Mutating routes name their audit action;
 * rate-limited ones their bucket.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

import type { Clock } from '../../shared/clock.js';
import type { ApiConfig } from '../../shared/config/index.js';
import { BacktrackError } from '../../shared/errors.js';
import type { KafkaPort } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging.js';
import type { PgPool } from '../../shared/pg/index.js';
import type { ObjectStore } from '../../shared/s3/index.js';

import type { Engines } from './engines.js';
import type { Principal, Role } from './principal.js';
import type { RateBucket } from './rate-limit.js';

/** Who may call a route. */
export type Access = Role | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least role the route needs, or `public`. Undeclared: the route answers 404. */
    access?: Access;
    /** Audit action of a mutating route, e.g. `backup.create`. */
    audit?: string;
    /** Rate-limit bucket, or a function of the validated request that picks one. */
    rateLimit?: RateBucket | ((request: FastifyRequest) => RateBucket | undefined);
  }
  interface FastifyRequest {
    /** Set for every non-public route once the token was verified. */
    principal: Principal | undefined;
    /** The tenant the request acts for (non-public routes). */
    tenant: string | undefined;
    /** What the request acted on, for the audit log (e.g. a job id). */
    auditTarget: string | undefined;
    /** The X-Request-Id the client sent, when it was a valid one; the request's own id is server-made. */
    correlationId: string | undefined;
  }
}

/** Where the API's engines and stores are. */
export interface ApiDeps {
  readonly catalog: PgPool;
  readonly source: PgPool;
  /** Object store under Backtrack's prefix (deleting backups). */
  readonly store: ObjectStore;
  readonly kafka: KafkaPort;
  /** Synchronous dry runs call the restore engine directly; the rest goes through jobs. */
  readonly engines: Engines;
  readonly api: ApiConfig;
  readonly topicPrefix: string;
  readonly slot: string;
  readonly log: Logger;
  readonly clock: Clock;
}

/** The tenant of a tenant-scoped request (set by the auth hook). */
export function tenantOf(request: FastifyRequest): string {
  if (request.tenant === undefined)
    throw new BacktrackError('INTERNAL', `route ${request.url} used a tenant it did not resolve`);
  return request.tenant;
}

/** The audit and engine name of the caller: `<role>:<subject>`. */
export function actorOf(request: FastifyRequest): string {
  const p = request.principal;
  return p === undefined ? 'anonymous' : `${p.role}:${p.subject}`;
}

/** A 202 for a queued job, with its location. */
export function accepted(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(202).header('Location', location);
}
