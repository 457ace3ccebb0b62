/**
 * The metrics endpoint of capture and the archiver: where it listens and what `/healthz`
 * tells a caller it cannot authenticate. The servers listen on loopback addresses only
 * (port 0). On Linux all of 127.0.0.0/8 is loopback, so 127.0.0.2 stands for "another
 * address of this machine": a server bound to 127.0.0.1 alone refuses it, one bound to
 * every interface accepts it.
 */
import { connect, createServer } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { BacktrackError } from '../../../shared/errors.js';
import type { Health } from '../../../shared/health.js';
import { createLogger } from '../../../shared/logging.js';
import { createRegistry, type MetricsServer, startMetricsServer } from '../../../shared/metrics.js';

/** Another address of this machine than the default one. */
const OTHER_ADDRESS = '127.0.0.2';

/** 'connected', or the code of the error connecting to host:port failed with. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/**
 * Whether 127.0.0.1:port can be bound, i.e. no socket listens on it or on every interface at
 * that port. Unlike a connection, it cannot be answered by another test's server that was
 * given the same port number on 127.0.0.1 (ports are handed out per address).
 */
function loopbackPortFree(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) =>
      e.code === 'EADDRINUSE' ? resolve(false) : reject(e),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

const started: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

/** Starts a server on a free port; returns it and the JSON lines it logged. */
async function serve(options: { host?: string; health?: () => Health } = {}) {
  const lines: string[] = [];
  const log = createLogger({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const server = await startMetricsServer({
    registry: createRegistry('test_'),
    port: 0,
    health: options.health ?? (() => ({ healthy: true, checks: { capture: 'ok' } })),
    log,
    ...(options.host === undefined ? {} : { host: options.host }),
  });
  started.push(server);
  const logged = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { server, logged };
}

describe('metrics server: where it listens', () => {
  it('listens on 127.0.0.1 only unless told otherwise', async () => {
    const { server } = await serve();
    expect(server.host).toBe('127.0.0.1');
    expect(await tryConnect('127.0.0.1', server.port)).toBe('connected');
    expect(await tryConnect(OTHER_ADDRESS, server.port)).toBe('ECONNREFUSED');
  });

  it('listens on every interface when configured with 0.0.0.0', async () => {
    const { server } = await serve({ host: '0.0.0.0' });
    expect(server.host).toBe('0.0.0.0');
    expect(await tryConnect('127.0.0.1', server.port)).toBe('connected');
    expect(await tryConnect(OTHER_ADDRESS, server.port)).toBe('connected');
  });

  it('listens on that one address only when configured with it', async () => {
    // A server on 127.0.0.2 alone leaves 127.0.0.1 at its port free. Another test may hold
    // that port on 127.0.0.1 by chance (seen once in CI): then a new server, on another
    // port; a server that listened on every interface would hold it each time.
    let free = false;
    for (let attempt = 0; attempt < 5 && !free; attempt++) {
      const { server } = await serve({ host: OTHER_ADDRESS });
      expect(server.host).toBe(OTHER_ADDRESS);
      expect(await tryConnect(OTHER_ADDRESS, server.port)).toBe('connected');
      free = await loopbackPortFree(server.port);
    }
    expect(free).toBe(true);
  });
});

describe('metrics server: /healthz', () => {
  const secrets = ['backtrack_main', '0/16B3748', '10.0.0.7', '5432', 'ECONNREFUSED'];
  let healthy = false;
  const health = (): Health =>
    healthy
      ? { healthy: true, checks: { capture: 'ok' }, detail: { slot: 'backtrack_main' } }
      : {
          healthy: false,
          checks: { capture: 'restarting', source: 'unreachable' },
          detail: {
            slot: 'backtrack_main',
            durableLsn: '0/16B3748',
            err: new BacktrackError(
              'SOURCE_UNAVAILABLE',
              'cannot reach the source database at 10.0.0.7:5432/app (connect ECONNREFUSED 10.0.0.7:5432)',
            ),
          },
        };

  it('answers generic reasons only and logs the detail at warn, once per answer', async () => {
    healthy = false;
    const { server, logged } = await serve({ health });
    const url = `http://127.0.0.1:${server.port}/healthz`;

    const unhealthy = await fetch(url);
    const text = await unhealthy.text();
    expect(unhealthy.status).toBe(503);
    expect(JSON.parse(text)).toEqual({
      status: 'unhealthy',
      checks: { capture: 'restarting', source: 'unreachable' },
    });
    for (const secret of secrets) expect(text).not.toContain(secret);
    await fetch(url);

    const warnings = logged().filter((line) => line.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      msg: 'health check unhealthy',
      checks: { capture: 'restarting', source: 'unreachable' },
      slot: 'backtrack_main',
      durableLsn: '0/16B3748',
      err: { message: expect.stringContaining('connect ECONNREFUSED 10.0.0.7:5432') as string },
    });

    healthy = true;
    const ok = await fetch(url);
    const okText = await ok.text();
    expect(ok.status).toBe(200);
    expect(JSON.parse(okText)).toEqual({ status: 'ok', checks: { capture: 'ok' } });
    expect(okText).not.toContain('backtrack_main');
    expect(logged().filter((line) => line.level === 'warn')).toHaveLength(1);
  });
});
