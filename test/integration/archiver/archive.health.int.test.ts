/**
 * The archiver's /metrics and /healthz: on loopback unless configured, and /healthz tells
 * its unauthenticated callers generic reasons only (no consumer group, offset or error).
 */
import { archiveInProcess } from '../../support/archive.js';
import { describe, expect, test } from '../../support/fixtures.js';

describe('archiver: metrics endpoint', () => {
  test('listens on 127.0.0.1; /healthz answers generic reasons only', async ({
    config,
    kafka,
    s3,
    catalog,
    log,
  }) => {
    const archiver = await archiveInProcess({ config, kafka, s3, catalog, log });
    try {
      expect(archiver.metricsHost).toBe('127.0.0.1');
      const base = `http://127.0.0.1:${archiver.metricsPort}`;
      const health = await fetch(`${base}/healthz`);
      const text = await health.text();
      expect(health.status).toBe(200);
      expect(JSON.parse(text)).toEqual({ status: 'ok', checks: { archiver: 'ok' } });
      expect(text).not.toContain(archiver.groupId);
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(
        /^backtrack_archiver_oldest_buffered_seconds /m,
      );
    } finally {
      await archiver.stop();
    }
  });
});
