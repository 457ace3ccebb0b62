/**
 * The checkpoint is the source of truth: a slot found confirmed past it (here moved by
 * hand while capture was stopped, as an operator or another tool could) means WAL that
 * never reached Kafka and that Postgres will not send again. Capture records that gap in
 * the catalog before it resumes at the slot, restore-points lists it, health recommends a
 * snapshot, and the next session does not report it again.
 */
import { listCaptureGaps } from '../../../shared/catalog/capture-gaps.js';
import { restorePoints } from '../../../shared/catalog/restore-points.js';
import { checkpointTopic, readCheckpoint, txlogTopic } from '../../../shared/events/index.js';
import { parseLsn } from '../../../shared/lsn.js';
import {
  captureInProcess,
  readTxlog,
  setupSource,
  slotAndCheckpoint,
  textOf,
  waitForLog,
} from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait-for.js';

describe('capture: a slot ahead of the checkpoint', () => {
  test('the lost WAL is recorded as a gap, shown, and not papered over; capture resumes at the slot', async ({
    source,
    kafka,
    catalog,
    log,
  }) => {
    await source.exec(`CREATE TABLE items (id int PRIMARY KEY, tenant_id text NOT NULL)`);
    await setupSource(source);
    const ids = async (): Promise<string[]> =>
      (await readTxlog(kafka.port, kafka.topicPrefix))
        .map((e) => textOf(e.event, 'after', 'id') ?? '')
        .sort();
    const options = { catalogUrl: catalog.url };

    let capture = await captureInProcess(source, kafka, log, options);
    await source.exec(`INSERT INTO items VALUES (1, 'acme')`);
    await waitForLog(kafka.port, kafka.topicPrefix, (e) => e.length === 1, 'the first insert');
    await capture.stop();
    const before = await readCheckpoint(
      kafka.port,
      checkpointTopic(kafka.topicPrefix),
      source.slot,
    );
    expect(before).toBeDefined();

    // While capture is stopped, a row commits and the slot is moved past it by hand.
    await source.exec(`INSERT INTO items VALUES (2, 'acme')`);
    await waitFor(
      async () =>
        (
          await source.pool.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [
            source.slot,
          ])
        ).rows[0]?.active === false,
      { timeoutMs: 30_000, what: 'the slot to be released' },
    );
    const advanced = await source.pool.query(
      'SELECT end_lsn::text AS lsn FROM pg_replication_slot_advance($1, pg_current_wal_lsn())',
      [source.slot],
    );
    const slotAt = parseLsn(String(advanced.rows[0]?.lsn));
    expect(slotAt).toBeGreaterThan(before?.commitEndLsn ?? 0n);

    capture = await captureInProcess(source, kafka, log, options);
    try {
      expect((await capture.metrics.gaps.get()).values[0]?.value).toBe(1);
      await source.exec(`INSERT INTO items VALUES (3, 'acme')`);
      await waitForLog(kafka.port, kafka.topicPrefix, (e) => e.length === 2, 'the third insert');
      // Row 2 is lost for good: the log holds 1 and 3, and says where it is incomplete.
      expect(await ids()).toEqual(['1', '3']);
    } finally {
      await capture.stop();
    }

    const gaps = await listCaptureGaps(catalog.pool, txlogTopic(kafka.topicPrefix));
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({
      slot: source.slot,
      fromLsn: before?.commitEndLsn,
      toLsn: slotAt,
    });
    // The last commit in Kafka before the gap (to the millisecond a Date holds).
    const afterMs = gaps[0]?.afterCommitTime.getTime() ?? 0;
    expect(Math.abs(afterMs - Number((before?.commitTimeUs ?? 0n) / 1000n))).toBeLessThanOrEqual(1);
    // The checkpoint moved past the gap, and the slot never passes the checkpoint.
    const positions = await slotAndCheckpoint(
      kafka.port,
      kafka.topicPrefix,
      source.url,
      source.slot,
    );
    expect(positions.checkpoint).toBeGreaterThanOrEqual(slotAt);
    expect(positions.slot).toBeLessThanOrEqual(positions.checkpoint);

    // restore-points lists the gap for every tenant of the log.
    await catalog.pool.query(`INSERT INTO backtrack.tenants (tenant_id) VALUES ('acme')`);
    const points = await restorePoints(catalog.pool, 'acme', txlogTopic(kafka.topicPrefix));
    expect(points.captureGaps.map((g) => g.toLsn)).toEqual([slotAt]);

    // A later session finds slot ≤ checkpoint again: no second gap.
    capture = await captureInProcess(source, kafka, log, options);
    try {
      expect((await capture.metrics.gaps.get()).values[0]?.value ?? 0).toBe(0);
    } finally {
      await capture.stop();
    }
    expect(await listCaptureGaps(catalog.pool, txlogTopic(kafka.topicPrefix))).toHaveLength(1);
  });

  test('without a catalog to record it in, the gap stops capture with what to set', async ({
    source,
    kafka,
    log,
  }) => {
    await source.exec(`CREATE TABLE items (id int PRIMARY KEY, tenant_id text NOT NULL)`);
    await setupSource(source);
    const capture = await captureInProcess(source, kafka, log);
    await source.exec(`INSERT INTO items VALUES (1, 'acme')`);
    await waitForLog(kafka.port, kafka.topicPrefix, (e) => e.length === 1, 'the first insert');
    await capture.stop();
    await source.exec(`INSERT INTO items VALUES (2, 'acme')`);
    await waitFor(
      async () =>
        (
          await source.pool.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [
            source.slot,
          ])
        ).rows[0]?.active === false,
      { timeoutMs: 30_000, what: 'the slot to be released' },
    );
    await source.pool.query('SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())', [
      source.slot,
    ]);
    await expect(captureInProcess(source, kafka, log)).rejects.toThrow(
      /past the capture checkpoint .*never reached Kafka; set BACKTRACK_CATALOG_URL/,
    );
  });
});
