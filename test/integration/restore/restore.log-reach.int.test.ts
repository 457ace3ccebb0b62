/**
 * A restore to an instant just past the last change proves the log reaches it without
 * waiting for capture's idle advance: it commits a probe (a logical decoding message of
 * its own), which capture confirms the slot past as soon as Kafka has it. Here idle
 * advances are off and the wait is short, so only the probe can prove it; WAL of other
 * databases on the same server (other tests) does not hold it up.
 */
import { oracleSchemaSql } from '../../oracle/workload.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';

describe('restore: how far the log reaches', () => {
  test(
    'a target right after the last commit is proven by a probe, not by an idle advance',
    { timeout: 120_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const env = await restoreEnvironment(
        { source, catalog, kafka, s3, config, log },
        oracleSchemaSql(source.schema),
        { capture: { idleCheckpointMs: 3_600_000 }, captureWaitMs: 5_000 },
      );
      try {
        await source.exec(`INSERT INTO accounts VALUES (1, 'acme', 'one', NULL)`);
        await env.snapshotter.take({ tenant: 'acme', kind: 'full', createdBy: 'test' });
        for (let round = 0; round < 3; round++) {
          await source.exec(`UPDATE accounts SET name = name || '+' WHERE id = 1`);
          const target = await env.now();
          const truth = await env.state('acme');
          const summary = await env.restorer.restore({
            tenant: 'acme',
            target,
            mode: { kind: 'in-place', confirm: true },
            dryRun: true,
            actor: 'test',
          });
          expect(summary.replayed.events).toBe(round + 1);
          expect(summary.tables.find((t) => t.table.endsWith('.accounts'))).toMatchObject({
            rowsAtTarget: truth.accounts?.length,
            updates: 0,
          });
        }
      } finally {
        await env.close();
      }
    },
  );
});
