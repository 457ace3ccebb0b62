/**
 * Who calls: a bearer JWT verified with jose (an HS256 shared secret, or the keys of a
 * JWKS URL) whose claims carry the tenant and the role. Roles are ordered viewer <
 * operator < admin; platform-admin spans tenants. Anything wrong with the token is
 * AUTH_REQUIRED, never a hint about which check failed beyond the message.
 */
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { z } from 'zod';

import type { ApiConfig } from '../../shared/config/index.js';
import { BacktrackError } from '../../shared/errors.js';

import { isPlainName } from './bad-text.js';

/** Roles, in increasing power; platform-admin also spans tenants. */
export const ROLES = ['viewer', 'operator', 'admin', 'platform-admin'] as const;
export type Role = (typeof ROLES)[number];

/** Whether `role` is at least `required`. */
export function hasRole(role: Role, required: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required);
}

/** An authenticated caller. */
export interface Principal {
  /** The token's subject (`sub`), for the audit log. */
  readonly subject: string;
  readonly role: Role;
  /** The tenant of the token; undefined only for platform-admin. */
  readonly tenant: string | undefined;
}

/** A claim that names someone: bounded, storable text without control characters. */
const nameClaim = z.string().refine(isPlainName);

const claims = z.object({
  sub: nameClaim,
  role: z.enum(ROLES),
  tenant_id: nameClaim.optional(),
  exp: z.number().finite(),
  iat: z.number().finite().optional(),
});

/** Verifies bearer tokens. */
export interface TokenVerifier {
  verify(authorization: string | undefined): Promise<Principal>;
}

const authRequired = (message: string): BacktrackError =>
  new BacktrackError('AUTH_REQUIRED', message);

/** A verifier for the configured secret or JWKS; CONFIG_INVALID when neither is set. */
export function createTokenVerifier(api: ApiConfig): TokenVerifier {
  let key: Parameters<typeof jwtVerify>[1];
  let algorithms: string[] | undefined;
  if (api.jwtSecret !== undefined) {
    key = new TextEncoder().encode(api.jwtSecret);
    algorithms = ['HS256'];
  } else if (api.jwksUrl !== undefined) {
    key = createRemoteJWKSet(new URL(api.jwksUrl));
  } else {
    throw new BacktrackError(
      'CONFIG_INVALID',
      'the control API needs a way to verify tokens: set BACKTRACK_API_JWT_SECRET (HS256) or BACKTRACK_API_JWKS_URL',
    );
  }
  return {
    verify: async (authorization) => {
      const match = /^Bearer ([A-Za-z0-9_.-]{1,8192})$/.exec(authorization ?? '');
      if (!match?.[1]) throw authRequired('send a bearer token: Authorization: Bearer <JWT>');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(match[1], key, {
          algorithms,
          issuer: api.jwtIssuer,
          audience: api.jwtAudience,
          requiredClaims: ['sub', 'exp'],
        }));
      } catch (e) {
        throw authRequired(
          `the bearer token was refused (${e instanceof Error ? e.message : 'invalid'}); get a new one`,
        );
      }
      const parsed = claims.safeParse(payload);
      if (!parsed.success)
        throw authRequired('the bearer token lacks a valid sub, role or tenant_id claim');
      const { sub, role, tenant_id: tenant, exp, iat } = parsed.data;
      // A token lives at most maxTokenLifetimeSeconds, counted from its iat, and from now
      // for one without iat (a stolen long-lived token is a standing key).
      const now = Math.floor(Date.now() / 1000);
      const lifetime = exp - Math.min(iat ?? now, now);
      if (lifetime > api.maxTokenLifetimeSeconds)
        throw authRequired(
          `the bearer token lives ${lifetime > 1e12 ? 'practically forever' : `${Math.round(lifetime)} s`}, longer than the ${api.maxTokenLifetimeSeconds} s this API accepts (BACKTRACK_API_MAX_TOKEN_LIFETIME_SECONDS); get a shorter-lived one`,
        );
      if (role !== 'platform-admin' && tenant === undefined)
        throw authRequired(`a ${role} token must name its tenant (claim tenant_id)`);
      return { subject: sub, role, tenant: role === 'platform-admin' ? undefined : tenant };
    },
  };
}
