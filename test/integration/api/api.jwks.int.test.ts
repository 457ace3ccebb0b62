/**
 * Tokens verified against a JSON Web Key Set (BACKTRACK_API_JWKS_URL), as an identity
 * provider publishes it: an RS256 token of a key in the set, with the configured issuer and
 * audience, is accepted; one signed by a key not in the set, or for another audience or
 * issuer, or an HS256 token, is 401 AUTH_REQUIRED. The key set is served over HTTP on
 * loopback by the test, as a provider would.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

import { describe, expect, test } from '../../support/fixtures.js';

import { apiClient, startApi, token } from './harness.js';

const ISSUER = 'https://id.example.test/';
const AUDIENCE = 'backtrack';

describe('control API: tokens from a JWKS URL', () => {
  test(
    'a key of the set, issuer and audience right: accepted; anything else: 401',
    { timeout: 120_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const known = await generateKeyPair('RS256');
      const stranger = await generateKeyPair('RS256');
      const jwk: JWK = {
        ...(await exportJWK(known.publicKey)),
        kid: 'k1',
        alg: 'RS256',
        use: 'sig',
      };
      let fetches = 0;
      const jwksServer = createServer((request, response) => {
        fetches += 1;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
      const stack = await startApi(
        { source, catalog, kafka, s3, config, log },
        { workers: 0, jwks: { url, issuer: ISSUER, audience: AUDIENCE } },
      );
      const api = apiClient(stack.api.url);
      const sign = (
        key: Parameters<SignJWT['sign']>[0],
        claims: { issuer?: string; audience?: string; kid?: string } = {},
      ) =>
        new SignJWT({ role: 'viewer', tenant_id: 'ta' })
          .setProtectedHeader({ alg: 'RS256', kid: claims.kid ?? 'k1' })
          .setSubject('someone')
          .setIssuer(claims.issuer ?? ISSUER)
          .setAudience(claims.audience ?? AUDIENCE)
          .setIssuedAt()
          .setExpirationTime('1h')
          .sign(key);
      try {
        const ok = await api.call('GET', '/v1/backups', { token: await sign(known.privateKey) });
        expect(ok.status, ok.text).toBe(200);
        expect(fetches).toBeGreaterThan(0);

        for (const [what, bad] of [
          ['a key outside the set', await sign(stranger.privateKey)],
          ['another audience', await sign(known.privateKey, { audience: 'someone-else' })],
          ['another issuer', await sign(known.privateKey, { issuer: 'https://evil.test/' })],
          ['an HS256 token', await token('viewer', 'ta')],
        ] as const) {
          const refused = await api.call('GET', '/v1/backups', { token: bad });
          expect(refused.status, what).toBe(401);
          expect(refused.body, what).toMatchObject({ error: { code: 'AUTH_REQUIRED' } });
        }
        expect(api.statuses.filter((s) => s >= 500)).toEqual([]);
      } finally {
        await stack.stop();
        await new Promise((resolve) => jwksServer.close(resolve));
      }
    },
  );
});
