/**
 * A tenant born after the last `snapshot --all` is restorable from its first row: the run's
 * tenant census found it with no rows, so a restore to any instant after the census starts
 * from an empty base and the log — into a schema and in place — with no snapshot of its own.
 * Before the census nothing proves what it held: refused, naming where the window starts.
 */
import { restorePoints } from '../../../shared/catalog/restore-points.js';
import { findTenant } from '../../../shared/catalog/tenants.js';
import { isBacktrackError } from '../../../shared/errors.js';
import { txlogTopic } from '../../../shared/events/index.js';
import { quoteIdent } from '../../../shared/pg/index.js';
import { tenantState } from '../../oracle/workload.js';
import { archiveInProcess } from '../../support/archive.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';
import { waitFor } from '../../support/wait-for.js';

describe('restore: a tenant born after the last snapshot', () => {
  test(
    'restores from the census that found it empty, to every instant of its life',
    { timeout: 240_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const env = await restoreEnvironment({ source, catalog, kafka, s3, config, log });
      const archiver = await archiveInProcess({ config, kafka, s3, catalog, log });
      const restoreInto = async (tenant: string, target: string, schema: string) =>
        env.restorer.restore({
          tenant,
          target,
          mode: { kind: 'schema', schema },
          dryRun: false,
          actor: 'test',
        });
      const restoredState = async (schema: string, tenant: string) => {
        const session = await source.pool.connect();
        try {
          return await tenantState(session, schema, tenant);
        } finally {
          session.release();
        }
      };
      const empty = { accounts: [], documents: [], notes: [] };
      try {
        await source.exec(`
          INSERT INTO accounts VALUES (1, 'old-a', 'a', 'pro'), (2, 'old-b', 'b', NULL);
          INSERT INTO documents VALUES (1, 'old-a', 1, 'a doc', 'body', '{}');`);
        const beforeCensus = await env.now();
        const outcomes = await env.snapshotter.takeAll({ kind: 'full', createdBy: 'test' });
        expect(outcomes.map((o) => [o.tenant, o.status])).toEqual([
          ['old-a', 'completed'],
          ['old-b', 'completed'],
        ]);
        const afterCensus = await env.now();
        const oldBefore = await env.digest('old-a');

        // newco's life: born, changed (an update, a key move, a delete), then an accident.
        await source.exec(`
          BEGIN;
          INSERT INTO accounts VALUES (10, 'newco', 'newco main', 'team'), (11, 'newco', 'newco two', NULL);
          INSERT INTO documents VALUES (10, 'newco', 10, 'first', repeat('x', 5000), '{"n": 1}');
          COMMIT;`);
        const born = await env.now();
        const atBirth = await env.state('newco');
        await source.exec(`
          BEGIN;
          UPDATE documents SET title = 'edited' WHERE id = 10;
          UPDATE accounts SET id = 12 WHERE id = 11;
          INSERT INTO notes VALUES (10, 'newco', 10, 'a note'), (11, 'newco', NULL, 'another');
          DELETE FROM notes WHERE id = 11;
          COMMIT;`);
        const grown = await env.now();
        const atGrown = await env.state('newco');
        expect(atGrown.accounts).not.toEqual(atBirth.accounts);
        await source.exec(`DELETE FROM accounts WHERE tenant_id = 'newco'`);
        expect(await env.state('newco')).toEqual({
          accounts: [],
          documents: [],
          notes: ['10\tnewco\t10\ta note'],
        });
        // The catalog learns of a tenant when the archiver stores its first events.
        await waitFor(async () => (await findTenant(catalog.pool, 'newco')) !== undefined, {
          timeoutMs: 60_000,
          what: 'the archiver to record newco',
        });

        // Into schemas: empty right after the census, then each state of its life.
        const prefix = `nt_${kafka.topicPrefix.slice(-6)}`;
        const first = await restoreInto('newco', afterCensus, `${prefix}_0`);
        expect(first.snapshot.kind).toBe('census');
        expect(await restoredState(`${prefix}_0`, 'newco')).toEqual(empty);
        for (const [i, [target, truth]] of [
          [born, atBirth],
          [grown, atGrown],
        ].entries()) {
          const schema = `${prefix}_${i + 1}`;
          const summary = await restoreInto('newco', target as string, schema);
          expect(summary.snapshot.kind).toBe('census');
          expect(summary.replayed.events).toBeGreaterThan(0);
          expect(await restoredState(schema, 'newco')).toEqual(truth);
        }

        // Before the census: refused, with the window's start.
        const refused = await restoreInto('newco', beforeCensus, `${prefix}_x`).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isBacktrackError(refused, 'TARGET_OUTSIDE_WINDOW')).toBe(true);
        expect(String((refused as Error).message)).toMatch(/tenant census/);

        // restore-points shows the census as where newco's window starts.
        const points = await restorePoints(catalog.pool, 'newco', txlogTopic(kafka.topicPrefix));
        expect(points.snapshots).toEqual([]);
        expect(points.censuses).toHaveLength(1);
        expect(points.earliest?.getTime()).toBe(points.censuses[0]?.takenAt.getTime());
        expect(points.earliest?.getTime()).toBeLessThanOrEqual(Date.parse(afterCensus));
        // …and not for a tenant the census found.
        expect(
          (await restorePoints(catalog.pool, 'old-a', txlogTopic(kafka.topicPrefix))).censuses,
        ).toEqual([]);

        // In place, before the accident: newco is back, the others untouched.
        await env.restorer.restore({
          tenant: 'newco',
          target: grown,
          mode: { kind: 'in-place', confirm: true },
          dryRun: false,
          actor: 'test',
        });
        expect(await env.state('newco')).toEqual(atGrown);
        expect(await env.digest('old-a')).toBe(oldBefore);
        for (let i = 0; i < 3; i++)
          await source.pool.query(`DROP SCHEMA ${quoteIdent(`${prefix}_${i}`)} CASCADE`);
      } finally {
        await archiver.stop();
        await env.close();
      }
    },
  );
});
