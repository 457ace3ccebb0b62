/**
 * What capture exposes while it runs (/metrics and /healthz: on loopback, and to its
 * unauthenticated callers only generic reasons, the detail going to the log), and what it
 * does with a row too large for a Kafka record: the row images go to object storage and the
 * event carries a verifiable reference (claim check), so no row is ever uncapturable.
 */
import { createHash, randomBytes } from 'node:crypto';

import { freePort } from '../../../infra/stack/ports.js';
import { startCapture } from '../../../services/capture/index.js';
import { requireSection } from '../../../shared/config/index.js';
import { decodeChangeEvent } from '../../../shared/events/index.js';
import { createLogger } from '../../../shared/logging.js';
import {
  captureInProcess,
  kafkaConfigFor,
  setupSource,
  sourceConfigFor,
  TEST_CAPTURE,
  waitForLog,
} from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait-for.js';

describe('capture: metrics, health and oversized rows', () => {
  test('/metrics counts events and transactions and names the slot; /healthz says ok', async ({
    source,
    kafka,
    log,
  }) => {
    await source.exec(`CREATE TABLE notes (id int PRIMARY KEY, tenant_id text NOT NULL)`);
    await setupSource(source);
    const capture = await captureInProcess(source, kafka, log);
    try {
      await source.exec(`INSERT INTO notes SELECT g, 't' || (g % 3) FROM generate_series(1, 25) g`);
      await source.exec(`DELETE FROM notes WHERE id <= 5`);
      await waitForLog(kafka.port, kafka.topicPrefix, (e) => e.length === 30, '30 events');
      const base = `http://127.0.0.1:${capture.metricsPort}`;
      const metrics = await (await fetch(`${base}/metrics`)).text();
      const value = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1]);
      expect(value(/^backtrack_capture_events_total\{op="insert"\} (\d+)$/m)).toBe(25);
      expect(value(/^backtrack_capture_events_total\{op="delete"\} (\d+)$/m)).toBe(5);
      expect(value(/^backtrack_capture_transactions_total (\d+)$/m)).toBe(2);
      expect(value(/^backtrack_capture_last_committed_lsn (\d+)$/m)).toBeGreaterThan(0);
      expect(metrics).toMatch(/^backtrack_capture_kafka_commit_seconds_count \d+$/m);
      expect(metrics).toMatch(/^backtrack_capture_commit_to_kafka_seconds_bucket/m);
      expect(metrics).toMatch(/^backtrack_capture_process_resident_memory_bytes \d+/m);
      expect(metrics).toContain(`\nbacktrack_capture_slot_info{slot="${source.slot}"} 1\n`);

      expect(capture.metricsHost).toBe('127.0.0.1');
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok', checks: { capture: 'ok' } });
    } finally {
      await capture.stop();
    }
  });

  test('/healthz of a capture that cannot reach the source: generic reasons, the detail in the log', async ({
    source,
    kafka,
  }) => {
    await source.exec(`CREATE TABLE notes (id int PRIMARY KEY, tenant_id text NOT NULL)`);
    await setupSource(source);
    const nowhere = new URL(source.url);
    nowhere.port = String(await freePort());
    const lines: string[] = [];
    const log = createLogger({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const capture = await startCapture({
      source: sourceConfigFor(source, { url: nowhere.toString() }),
      kafka: kafkaConfigFor(kafka),
      // Keeps retrying (restarting) instead of failing at once.
      capture: { ...TEST_CAPTURE, startupTimeoutMs: 120_000 },
      s3: undefined,
      encryption: undefined,
      log,
    });
    try {
      const url = `http://127.0.0.1:${capture.metricsPort}/healthz`;
      const answer = await waitFor(
        async () => {
          const response = await fetch(url);
          const text = await response.text();
          return text.includes('unreachable') && { status: response.status, text };
        },
        { timeoutMs: 30_000, what: 'the source reported unreachable' },
      );
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.text)).toEqual({
        status: 'unhealthy',
        checks: { capture: 'restarting', source: 'unreachable' },
      });
      for (const secret of [source.slot, nowhere.hostname, nowhere.port, 'ECONNREFUSED', '/']) {
        expect(answer.text).not.toContain(secret);
      }

      const warning = lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((line) => line.msg === 'health check unhealthy' && line.level === 'warn');
      expect(warning).toMatchObject({
        slot: source.slot,
        phase: 'restarting',
        checks: { capture: 'restarting', source: 'unreachable' },
        err: {
          code: 'SOURCE_UNAVAILABLE',
          message: expect.stringContaining(
            `ECONNREFUSED ${nowhere.hostname}:${nowhere.port}`,
          ) as string,
        },
      });
    } finally {
      await capture.stop();
    }
  });

  test('a row too large for Kafka goes to object storage, referenced and checksummed', async ({
    source,
    kafka,
    s3,
    config,
    log,
  }) => {
    await source.exec(
      `CREATE TABLE blobs (id int PRIMARY KEY, tenant_id text NOT NULL, body text)`,
    );
    await setupSource(source);
    const s3Config = requireSection(config, 's3', 'test');
    const capture = await startCapture({
      source: sourceConfigFor(source),
      kafka: kafkaConfigFor(kafka),
      capture: TEST_CAPTURE,
      s3: { ...s3Config, prefix: s3.store.prefix },
      encryption: undefined,
      log,
    });
    await capture.streaming;
    try {
      // 12 MB of random text: past the claim-check threshold (8 MiB) and Kafka's limit.
      const body = randomBytes(9_000_000).toString('base64');
      await source.exec(`INSERT INTO blobs VALUES (1, 'acme', $1), (2, 'acme', 'small')`, [body]);
      const events = await waitForLog(
        kafka.port,
        kafka.topicPrefix,
        (e) => e.length === 2,
        'both rows',
      );
      const [large, small] = events.map((e) => e.event).sort((a, b) => a.sequence - b.sequence);
      expect(small?.claim).toBeNull();
      expect(large?.after).toBeNull();
      const claim = large?.claim;
      expect(claim?.key).toMatch(new RegExp(`^claims/${source.slot}/[0-9a-f]{16}-\\d+\\.avro$`));
      const stored = await s3.store.get(claim?.key ?? '');
      expect(stored.length).toBe(claim?.size);
      expect(createHash('sha256').update(stored).digest('hex')).toBe(claim?.sha256);
      const full = decodeChangeEvent(stored);
      expect(full.after?.[2]).toEqual({ kind: 'text', text: body });
      expect({ ...full, claim: null, before: null, after: null }).toEqual({
        ...large,
        claim: null,
      });
    } finally {
      await capture.stop();
    }
  });
});
