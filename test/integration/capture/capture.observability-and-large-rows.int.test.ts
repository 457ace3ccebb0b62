/**
 * What capture exposes while it runs (/metrics and /healthz), and what it does with a row
 * too large for a Kafka record: the row images go to object storage and the event carries
 * a verifiable reference (claim check), so no row is ever uncapturable.
 */
import { createHash, randomBytes } from 'node:crypto';

import { startCapture } from '../../../services/capture/index.js';
import { requireSection } from '../../../shared/config/index.js';
import { decodeChangeEvent } from '../../../shared/events/index.js';
import {
  captureInProcess,
  kafkaConfigFor,
  setupSource,
  sourceConfigFor,
  TEST_CAPTURE,
  waitForLog,
} from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';

describe('capture: metrics, health and oversized rows', () => {
  test('/metrics counts events and transactions; /healthz says streaming', async ({
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

      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({
        status: 'ok',
        phase: 'streaming',
        slot: source.slot,
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
