/** Starts the control API's HTTP server on the configured host and port. */
import type { AddressInfo } from 'node:net';

import type { FastifyInstance } from 'fastify';

import { type Service, service } from '../../shared/lifecycle.js';
import { createRegistry, type Registry } from '../../shared/metrics.js';

import type { ApiDeps } from './context.js';
import { createTokenVerifier } from './principal.js';
import { buildApi } from './server.js';

/** A listening control API. */
export interface ControlApi extends Service {
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
  readonly app: FastifyInstance;
}

/** Builds the API and listens; CONFIG_INVALID when no way to verify tokens is configured. */
export async function startControlApi(
  deps: ApiDeps,
  registry: Registry = createRegistry('backtrack_api_'),
): Promise<ControlApi> {
  const app = await buildApi(deps, createTokenVerifier(deps.api), registry);
  await app.listen({ host: deps.api.host, port: deps.api.port });
  const port = (app.server.address() as AddressInfo).port;
  const host = deps.api.host.includes(':') ? `[${deps.api.host}]` : deps.api.host;
  deps.log.info({ component: 'control-api', host: deps.api.host, port }, 'control API listening');
  return {
    port,
    url: `http://${host}:${port}`,
    app,
    ...service('control API', () => app.close()),
  };
}
