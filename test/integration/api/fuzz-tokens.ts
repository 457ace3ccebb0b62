/**
 * The bearer tokens the fuzzer sends: valid ones of each role of tenant A (and a
 * platform-admin, who names the tenant with ?tenant=), and invalid ones: none, garbage, a
 * wrong key, expired, claims with NUL or a lone surrogate, an `exp` of 1e300, an unknown
 * role, `alg: none`, no `exp`, an oversized token.
 */
import { SignJWT } from 'jose';

import { JWT_SECRET, token } from './harness.js';

/** Every kind of token, valid ones first. */
export const TOKEN_KINDS = [
  'viewer',
  'operator',
  'admin',
  'platform-admin',
  'none',
  'garbage',
  'wrong key',
  'expired',
  'NUL in sub',
  'NUL in tenant_id',
  'lone surrogate in sub',
  'lone surrogate in tenant_id',
  'exp 1e300',
  'unknown role',
  'alg none',
  'no exp',
  'oversized',
] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/** The tokens a valid request is sent with. */
export const VALID_TOKENS = ['viewer', 'operator', 'admin', 'platform-admin'] as const;

/** Tokens whose claims name tenant A exactly: whatever the server makes of them, B stays hidden. */
export const TENANT_A_CLAIMS: ReadonlySet<TokenKind> = new Set<TokenKind>([
  'viewer',
  'operator',
  'admin',
  'NUL in sub',
  'lone surrogate in sub',
  'exp 1e300',
]);

const secret = new TextEncoder().encode(JWT_SECRET);
const inAnHour = (): number => Math.floor(Date.now() / 1000) + 3600;
const base64url = (value: unknown): string =>
  Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs `claims` as they are (no defaults added). */
const signed = (claims: Record<string, unknown>): Promise<string> =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(secret);

/** Every token kind's bearer string (undefined: no Authorization header) for `tenant`. */
export async function fuzzTokens(tenant: string): Promise<Record<TokenKind, string | undefined>> {
  const claims = { role: 'admin', tenant_id: tenant, sub: 'fuzz-admin', exp: inAnHour() };
  return {
    viewer: await token('viewer', tenant, { subject: 'fuzz-viewer' }),
    operator: await token('operator', tenant, { subject: 'fuzz-operator' }),
    admin: await token('admin', tenant, { subject: 'fuzz-admin' }),
    'platform-admin': await token('platform-admin', undefined, { subject: 'fuzz-platform' }),
    none: undefined,
    garbage: 'not-a-jwt',
    'wrong key': await token('admin', tenant, { secret: 'another-secret-another-secret-0123456' }),
    expired: await token('admin', tenant, { expiresAt: Math.floor(Date.now() / 1000) - 60 }),
    'NUL in sub': await signed({ ...claims, sub: 'fuzz\u0000admin' }),
    'NUL in tenant_id': await signed({ ...claims, tenant_id: `${tenant}\u0000` }),
    'lone surrogate in sub': await signed({ ...claims, sub: 'fuzz\ud800admin' }),
    'lone surrogate in tenant_id': await signed({ ...claims, tenant_id: `${tenant}\udfff` }),
    'exp 1e300': await signed({ ...claims, exp: 1e300 }),
    'unknown role': await signed({ ...claims, role: 'root' }),
    'alg none': `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claims)}.`,
    'no exp': await signed({ role: 'admin', tenant_id: tenant, sub: 'fuzz-admin' }),
    oversized: await signed({ ...claims, pad: 'p'.repeat(7_000) }),
  };
}
