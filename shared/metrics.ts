/**
 * Prometheus metrics and the small HTTP endpoint each long-running process exposes:
 * `/metrics` (text exposition) and `/healthz` (200 when healthy, 503 otherwise, with a JSON
 * body saying why).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import { type Service, service } from './lifecycle.js';

export { Counter, Gauge, Histogram, Registry };

/** A registry with the process metrics (memory, CPU, event loop) already in it. */
export function createRegistry(prefix: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  return registry;
}

/** What `/healthz` reports. */
export interface Health {
  readonly healthy: boolean;
  readonly details: Readonly<Record<string, unknown>>;
}

/** A running metrics endpoint. */
export interface MetricsServer extends Service {
  /** The port it listens on (useful when started on port 0). */
  readonly port: number;
}

/** Serves `/metrics` and `/healthz` on 127.0.0.1:`port` … or on `host` when given. */
export async function startMetricsServer(options: {
  registry: Registry;
  port: number;
  host?: string;
  health: () => Health;
}): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': options.registry.contentType });
          response.end(text);
        },
        (e: unknown) => {
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end(String(e));
        },
      );
      return;
    }
    if (path === '/healthz') {
      const health = options.health();
      response.writeHead(health.healthy ? 200 : 503, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ status: health.healthy ? 'ok' : 'unhealthy', ...health.details }),
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found: try /metrics or /healthz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    ...service(
      'metrics server',
      () => new Promise<void>((resolve) => server.close(() => resolve())),
    ),
  };
}
