/**
 * DDL reaches every tenant's restore, not only the tenants that wrote after it: a column
 * added with a DEFAULT while one tenant writes is restored for a tenant that changed no row
 * since, with the default in its older rows (Postgres' missing value, no WAL for those rows);
 * a dropped column is gone from it. Capture sends a table's new column set to the `_all`
 * stream at the first change after the DDL, which every restore reads.
 */
import { quoteIdent } from '../../../shared/pg/index.js';
import { tenantState } from '../../oracle/workload.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';

describe('restore: schema changes made while another tenant writes', () => {
  test(
    'a tenant silent since an ADD COLUMN … DEFAULT or a DROP COLUMN is restored with the columns as of T',
    { timeout: 240_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const env = await restoreEnvironment({ source, catalog, kafka, s3, config, log });
      const restoredState = async (schema: string) => {
        const session = await source.pool.connect();
        try {
          return await tenantState(session, schema, 'quiet');
        } finally {
          session.release();
        }
      };
      const columnsOf = async (schema: string) =>
        (
          await source.pool.query(
            `SELECT column_name FROM information_schema.columns
              WHERE table_schema = $1 AND table_name = 'accounts' ORDER BY ordinal_position`,
            [schema],
          )
        ).rows.map((r) => (r as { column_name: string }).column_name);
      const prefix = `sh_${kafka.topicPrefix.slice(-6)}`;
      try {
        await source.exec(`
          INSERT INTO accounts VALUES (1, 'quiet', 'q one', 'pro'), (2, 'quiet', 'q two', NULL);
          INSERT INTO accounts VALUES (10, 'busy', 'b one', 'team');`);
        for (const tenant of ['quiet', 'busy'])
          await env.snapshotter.take({ tenant, kind: 'full', createdBy: 'test' });

        // The DDL, then only `busy` writes to the table.
        await source.exec(`ALTER TABLE accounts ADD COLUMN tier text DEFAULT 'std'`);
        await source.exec(`INSERT INTO accounts VALUES (11, 'busy', 'b two', NULL, 'gold')`);
        const added = await env.now();
        const atAdded = await env.state('quiet');
        expect(atAdded.accounts).toEqual([
          '1\tquiet\tq one\tpro\tstd',
          '2\tquiet\tq two\t\\N\tstd',
        ]);

        await source.exec(`ALTER TABLE accounts DROP COLUMN plan`);
        await source.exec(`UPDATE accounts SET name = 'b one!' WHERE id = 10`);
        const dropped = await env.now();
        const atDropped = await env.state('quiet');
        expect(atDropped.accounts).toEqual(['1\tquiet\tq one\tstd', '2\tquiet\tq two\tstd']);

        // The accident: quiet's accounts are gone.
        await source.exec(`DELETE FROM accounts WHERE tenant_id = 'quiet'`);

        const first = await env.restorer.restore({
          tenant: 'quiet',
          target: added,
          mode: { kind: 'schema', schema: `${prefix}_added` },
          dryRun: false,
          actor: 'test',
        });
        expect(first.snapshot.kind).toBe('snapshot');
        expect(await restoredState(`${prefix}_added`)).toEqual(atAdded);
        expect(await columnsOf(`${prefix}_added`)).toEqual([
          'id',
          'tenant_id',
          'name',
          'plan',
          'tier',
        ]);

        await env.restorer.restore({
          tenant: 'quiet',
          target: dropped,
          mode: { kind: 'schema', schema: `${prefix}_dropped` },
          dryRun: false,
          actor: 'test',
        });
        expect(await restoredState(`${prefix}_dropped`)).toEqual(atDropped);
        expect(await columnsOf(`${prefix}_dropped`)).toEqual(['id', 'tenant_id', 'name', 'tier']);

        // In place: the live table has today's columns, which are the columns as of T.
        const busyBefore = await env.digest('busy');
        await env.restorer.restore({
          tenant: 'quiet',
          target: dropped,
          mode: { kind: 'in-place', confirm: true },
          dryRun: false,
          actor: 'test',
        });
        expect(await env.state('quiet')).toEqual(atDropped);
        expect(await env.digest('busy')).toBe(busyBefore);
        for (const suffix of ['added', 'dropped'])
          await source.pool.query(`DROP SCHEMA ${quoteIdent(`${prefix}_${suffix}`)} CASCADE`);
      } finally {
        await env.close();
      }
    },
  );
});
