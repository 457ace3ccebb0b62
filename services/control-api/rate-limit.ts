/**
 * Rate limits per tenant and endpoint bucket (backup-create, restore, pitr, rollback,
 * dr-test), in fixed windows counted in the catalog so that every API instance shares
 * them. Answers carry X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset
 * (Unix seconds); a refusal is 429 RATE_LIMIT_EXCEEDED with Retry-After (seconds).
 */
import type { FastifyReply } from 'fastify';

import { countRequest } from '../../shared/catalog/rate-limits.js';
import { BacktrackError } from '../../shared/errors.js';
import type { Queryable } from '../../shared/pg/index.js';

/** The rate-limited endpoint buckets. */
export const RATE_BUCKETS = ['backup-create', 'restore', 'pitr', 'rollback', 'dr-test'] as const;
export type RateBucket = (typeof RATE_BUCKETS)[number];

/** The limits in force. */
export interface RateLimits {
  readonly perWindow: Readonly<Record<string, number>>;
  readonly windowSeconds: number;
}

/**
 * Counts a request of `tenant` on `bucket`, sets the headers, and throws
 * RATE_LIMIT_EXCEEDED when the window's limit is passed.
 */
export async function enforceRateLimit(
  catalog: Queryable,
  limits: RateLimits,
  tenant: string,
  bucket: RateBucket,
  reply: FastifyReply,
): Promise<void> {
  const limit = limits.perWindow[bucket] ?? 0;
  const window = await countRequest(catalog, tenant, bucket, limits.windowSeconds);
  const remaining = Math.max(0, limit - window.count);
  void reply.header('X-RateLimit-Limit', String(limit));
  void reply.header('X-RateLimit-Remaining', String(remaining));
  void reply.header('X-RateLimit-Reset', String(window.resetAt));
  if (window.count > limit) {
    void reply.header('Retry-After', String(window.retryAfter));
    throw new BacktrackError(
      'RATE_LIMIT_EXCEEDED',
      `tenant ${tenant} made more than ${limit} ${bucket} request(s) in this ${limits.windowSeconds}-second window; retry after ${window.retryAfter} s`,
      { details: { bucket, limit, resetAt: window.resetAt, retryAfter: window.retryAfter } },
    );
  }
}
