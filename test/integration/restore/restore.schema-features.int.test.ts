/**
 * What a restore must respect in the tables themselves: a stored generated column is left
 * to the server (in place and into a schema); an owned sequence is moved forward to the
 * restored values and never back (not by the restore, not by its rollback); a foreign-key
 * cycle is loaded in place with its DEFERRABLE constraints deferred, and refused by name
 * when one of them is not deferrable (a schema restore still works: its keys come last).
 */
import { isBacktrackError } from '../../../shared/errors.js';
import { quoteIdent } from '../../../shared/pg/index.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';

function schemaSql(schema: string): string {
  const s = quoteIdent(schema);
  return `
    CREATE TABLE ${s}.customers (
      id int PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL, last_invoice_id bigint);
    CREATE TABLE ${s}.invoices (
      id bigserial PRIMARY KEY, tenant_id text NOT NULL, net numeric(10,2) NOT NULL,
      vat numeric(10,2) GENERATED ALWAYS AS (round(net * 0.2, 2)) STORED,
      customer_id int);
    ALTER TABLE ${s}.invoices ADD CONSTRAINT invoice_customer
      FOREIGN KEY (customer_id) REFERENCES ${s}.customers (id) DEFERRABLE;
    ALTER TABLE ${s}.customers ADD CONSTRAINT customer_last_invoice
      FOREIGN KEY (last_invoice_id) REFERENCES ${s}.invoices (id) DEFERRABLE;`;
}

describe('restore: generated columns, sequences, foreign-key cycles', () => {
  test(
    'generated values come from the server, sequences only move forward, cycles are deferred or named',
    { timeout: 300_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const env = await restoreEnvironment(
        { source, catalog, kafka, s3, config, log },
        schemaSql(source.schema),
      );
      const s = quoteIdent(source.schema);
      const rowsOf = async (schema: string, tenant: string) => {
        const q = quoteIdent(schema);
        const result = await source.pool.query(
          `SELECT (SELECT coalesce(json_agg(c ORDER BY id), '[]') FROM ${q}.customers c WHERE tenant_id = $1)::text AS customers,
                  (SELECT coalesce(json_agg(i ORDER BY id), '[]') FROM ${q}.invoices i WHERE tenant_id = $1)::text AS invoices`,
          [tenant],
        );
        return result.rows[0] as { customers: string; invoices: string };
      };
      const sequenceAt = async () => {
        const result = await source.pool.query(
          `SELECT last_value::bigint AS v FROM ${s}.invoices_id_seq`,
        );
        return BigInt(String((result.rows[0] as { v: string }).v));
      };
      try {
        // Each customer points at its newest invoice and each invoice at its customer.
        const seed = async (tenant: string, base: number) =>
          source.exec(`
            BEGIN;
            INSERT INTO customers SELECT ${base} + g, '${tenant}', 'customer ' || g, NULL FROM generate_series(1, 5) g;
            INSERT INTO invoices (tenant_id, net, customer_id)
              SELECT '${tenant}', 10 * g + 0.55, ${base} + 1 + g % 5 FROM generate_series(1, 12) g;
            UPDATE customers c SET last_invoice_id = (SELECT max(id) FROM invoices i WHERE i.customer_id = c.id)
              WHERE tenant_id = '${tenant}';
            COMMIT;`);
        await seed('ta', 100);
        await seed('tb', 200);
        for (const tenant of ['ta', 'tb'])
          await env.snapshotter.take({ tenant, kind: 'full', createdBy: 'test' });

        // After the snapshot: new invoices (one with an id far above the sequence) and a
        // changed net (the generated vat follows on the server).
        await source.exec(`
          BEGIN;
          INSERT INTO invoices (tenant_id, net, customer_id) VALUES ('ta', 99.99, 101);
          INSERT INTO invoices (id, tenant_id, net, customer_id) VALUES (100000, 'ta', 5.05, 102);
          UPDATE customers SET last_invoice_id = 100000 WHERE id = 102;
          UPDATE invoices SET net = net * 2 WHERE tenant_id = 'ta' AND id % 3 = 0;
          COMMIT;`);
        const target = await env.now();
        const truth = await rowsOf(source.schema, 'ta');
        expect(truth.invoices).toContain('"id":100000');

        // The accident, then tb moves the sequence on.
        await source.exec(`
          BEGIN;
          UPDATE customers SET last_invoice_id = NULL WHERE tenant_id = 'ta';
          DELETE FROM invoices WHERE tenant_id = 'ta';
          DELETE FROM customers WHERE tenant_id = 'ta';
          INSERT INTO invoices (tenant_id, net, customer_id) SELECT 'tb', g, 201 FROM generate_series(1, 30) g;
          COMMIT;`);
        const tbBefore = await rowsOf(source.schema, 'tb');
        const sequenceBefore = await sequenceAt();
        expect(sequenceBefore).toBeLessThan(100000n);

        // In place: the cycle is deferred, vat is the server's, the sequence moves up to
        // the restored 100000.
        const summary = await env.restorer.restore({
          tenant: 'ta',
          target,
          mode: { kind: 'in-place', confirm: true },
          dryRun: false,
          actor: 'test',
        });
        expect(await rowsOf(source.schema, 'ta')).toEqual(truth);
        expect(await rowsOf(source.schema, 'tb')).toEqual(tbBefore);
        expect(summary.restored.find((t) => t.table.endsWith('.invoices'))?.columns).not.toContain(
          'vat',
        );
        expect(await sequenceAt()).toBe(100000n);

        // The rollback takes the rows back, not the sequence.
        const snapshotId = summary.preRestoreSnapshotId ?? '';
        await env.restorer.rollback({
          snapshotId,
          confirm: true,
          dryRun: false,
          reason: 'test',
          actor: 'test',
        });
        expect(await rowsOf(source.schema, 'ta')).toEqual({ customers: '[]', invoices: '[]' });
        expect(await sequenceAt()).toBe(100000n);

        // A cycle that cannot be deferred: refused in place, naming both tables, nothing
        // written; a schema restore still rebuilds it, vat computed there too.
        await source.exec(
          `ALTER TABLE customers ALTER CONSTRAINT customer_last_invoice NOT DEFERRABLE`,
        );
        const refused = await env.restorer
          .restore({
            tenant: 'ta',
            target,
            mode: { kind: 'in-place', confirm: true },
            dryRun: false,
            actor: 'test',
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(isBacktrackError(refused, 'VALIDATION_FAILED')).toBe(true);
        expect(String((refused as Error).message)).toMatch(
          /cycle that cannot be deferred: .*(customers → .*invoices|invoices → .*customers)/,
        );
        expect(await rowsOf(source.schema, 'ta')).toEqual({ customers: '[]', invoices: '[]' });

        const copy = `${source.schema}_copy`;
        await env.restorer.restore({
          tenant: 'ta',
          target,
          mode: { kind: 'schema', schema: copy },
          dryRun: false,
          actor: 'test',
        });
        expect(await rowsOf(copy, 'ta')).toEqual(truth);
        const generated = await source.pool.query(
          `SELECT is_generated FROM information_schema.columns
            WHERE table_schema = $1 AND table_name = 'invoices' AND column_name = 'vat'`,
          [copy],
        );
        expect(generated.rows[0]).toEqual({ is_generated: 'ALWAYS' });
        await source.pool.query(`DROP SCHEMA ${quoteIdent(copy)} CASCADE`);
      } finally {
        await env.close();
      }
    },
  );
});
