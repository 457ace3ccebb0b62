/**
 * Prometheus metrics and the small HTTP endpoint each long-running process exposes:
 * `/metrics` (text exposition) and `/healthz` (200 when healthy, 503 otherwise, with a JSON
 * body of generic reasons, see health.ts). It has no auth, so it listens on 127.0.0.1 unless
 * told otherwise, and nothing it answers names a slot, a position, a host or an error.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import type { Health } from './health.js';
import { type Service, service } from './lifecycle.js';
import type { Logger } from './logging.js';

export { Counter, Gauge, Histogram, Registry };

/** Where the endpoint listens unless configured otherwise: loopback only. */
const DEFAULT_METRICS_HOST = '127.0.0.1';

/** A registry with the process metrics (memory, CPU, event loop) already in it. */
export function createRegistry(prefix: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  return registry;
}

/** A running metrics endpoint. */
export interface MetricsServer extends Service {
  /** The address it listens on, e.g. 127.0.0.1. */
  readonly host: string;
  /** The port it listens on (useful when started on port 0). */
  readonly port: number;
}

/**
 * Serves `/metrics` and `/healthz` on `host`:`port` (host 127.0.0.1 when not given). An
 * unhealthy answer is logged at warn with the health's detail, once per distinct answer.
 */
export async function startMetricsServer(options: {
  registry: Registry;
  port: number;
  host?: string;
  health: () => Health;
  log: Logger;
}): Promise<MetricsServer> {
  let lastLogged: string | undefined;
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': options.registry.contentType });
          response.end(text);
        },
        (e: unknown) => {
          options.log.warn({ err: e }, 'metrics collection failed');
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end('metrics collection failed; see the log\n');
        },
      );
      return;
    }
    if (path === '/healthz') {
      const health = options.health();
      const body = JSON.stringify({
        status: health.healthy ? 'ok' : 'unhealthy',
        checks: health.checks,
      });
      if (health.healthy) {
        lastLogged = undefined;
      } else if (body !== lastLogged) {
        // The caller is not authenticated: it gets the generic reasons, the log the detail.
        lastLogged = body;
        options.log.warn({ checks: health.checks, ...health.detail }, 'health check unhealthy');
      }
      response.writeHead(health.healthy ? 200 : 503, { 'content-type': 'application/json' });
      response.end(body);
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found: try /metrics or /healthz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? DEFAULT_METRICS_HOST, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    host: address,
    port,
    ...service(
      'metrics server',
      () => new Promise<void>((resolve) => server.close(() => resolve())),
    ),
  };
}
