/**
 * The schema history: DDL reaches every restore in its place in the log even when no row
 * of any tenant changes after it. `backtrack setup` installs event triggers that record
 * each DDL on a captured table in `backtrack.source_ddl`, a table of the publication; the
 * restore at T builds the tables, columns and values a SELECT at T returned: a column added
 * with a DEFAULT (older rows read it), a renamed column (its values kept), a retyped
 * column, a dropped column, a renamed table (its rows kept), a table created and added to
 * the publication, a dropped table (gone).
 */
import { quoteIdent } from '../../../shared/pg/index.js';
import { tenantState, type TenantState } from '../../oracle/workload.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';

/** Tables, their columns and a tenant's rows, of one schema at one instant. */
interface Picture {
  readonly columns: Readonly<Record<string, readonly string[]>>;
  readonly rows: TenantState;
}

describe('restore: the schema history', () => {
  test(
    'DDL with no row change after it: each restore has the tables, columns and values of its instant',
    { timeout: 240_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const env = await restoreEnvironment(
        { source, catalog, kafka, s3, config, log },
        `CREATE TABLE ${quoteIdent(source.schema)}.items (
           id int PRIMARY KEY, tenant_id text NOT NULL, name text, qty int, legacy text);
         CREATE TABLE ${quoteIdent(source.schema)}.notes (
           id int PRIMARY KEY, tenant_id text NOT NULL, body text);`,
      );
      const picture = async (schema: string, tenant: string): Promise<Picture> => {
        const tables = (
          await source.pool.query(
            `SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position) AS columns
               FROM information_schema.columns WHERE table_schema = $1
              GROUP BY table_name ORDER BY table_name`,
            [schema],
          )
        ).rows as { table_name: string; columns: string[] }[];
        const session = await source.pool.connect();
        try {
          return {
            columns: Object.fromEntries(tables.map((t) => [t.table_name, t.columns])),
            rows: await tenantState(
              session,
              schema,
              tenant,
              tables.map((t) => t.table_name),
            ),
          };
        } finally {
          session.release();
        }
      };
      const history = await source.pool.query(
        `SELECT count(*)::int AS n FROM backtrack.source_ddl h
          WHERE h.schema_name = $1 AND h.publications ? $2`,
        [source.schema, source.publication],
      );
      // setup recorded both tables (a baseline, or the publication's own DDL).
      expect(Number(history.rows[0]?.n)).toBeGreaterThanOrEqual(2);

      const instants: { label: string; at: string; truth: Picture }[] = [];
      const mark = async (label: string) =>
        instants.push({ label, at: await env.now(), truth: await picture(source.schema, 'quiet') });
      try {
        await source.exec(`
          INSERT INTO items VALUES (1, 'quiet', 'one', 5, 'old'), (2, 'quiet', 'two', NULL, NULL),
                                   (10, 'busy', 'ten', 1, 'x');
          INSERT INTO notes VALUES (1, 'quiet', 'note one'), (10, 'busy', 'note ten');`);
        for (const tenant of ['quiet', 'busy'])
          await env.snapshotter.take({ tenant, kind: 'full', createdBy: 'test' });
        await mark('snapshot');

        // Not one row changes between these DDL: only the history carries them.
        await source.exec(`ALTER TABLE items ADD COLUMN tier text DEFAULT 'std'`);
        await mark('add column with a default');
        await source.exec(`ALTER TABLE items RENAME COLUMN name TO title`);
        await mark('rename column');
        await source.exec(`ALTER TABLE items ALTER COLUMN qty TYPE numeric(10,2)`);
        await mark('alter column type (a rewrite)');
        await source.exec(`ALTER TABLE items DROP COLUMN legacy`);
        await mark('drop column');
        await source.exec(`ALTER TABLE notes RENAME TO memos`);
        await mark('rename table');
        await source.exec(`
          CREATE TABLE tags (id int PRIMARY KEY, tenant_id text NOT NULL, label text);
          ALTER TABLE tags REPLICA IDENTITY FULL;
          ALTER PUBLICATION ${quoteIdent(source.publication)} ADD TABLE tags;`);
        await mark('create table');
        await source.exec(`INSERT INTO tags VALUES (1, 'quiet', 'red'), (10, 'busy', 'blue')`);
        await source.exec(`UPDATE items SET title = 'two!' WHERE id = 2`);
        await mark('rows after the DDL');
        await source.exec(`DROP TABLE memos`);
        await mark('drop table');

        expect(instants.at(-1)?.truth.columns).toEqual({
          items: ['id', 'tenant_id', 'title', 'qty', 'tier'],
          tags: ['id', 'tenant_id', 'label'],
        });
        expect(instants.at(-1)?.truth.rows.items).toEqual([
          '1\tquiet\tone\t5.00\tstd',
          '2\tquiet\ttwo!\t\\N\tstd',
        ]);

        const prefix = `dh_${kafka.topicPrefix.slice(-6)}`;
        for (const [i, instant] of instants.entries()) {
          const schema = `${prefix}_${i}`;
          const summary = await env.restorer.restore({
            tenant: 'quiet',
            target: instant.at,
            mode: { kind: 'schema', schema },
            dryRun: false,
            actor: 'test',
          });
          expect(await picture(schema, 'quiet'), `${instant.label} at ${instant.at}`).toEqual(
            instant.truth,
          );
          expect(summary.warnings.filter((w) => /USING|volatile/.test(w))).toEqual([]);
          await source.pool.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
        }
      } finally {
        await env.close();
      }
    },
  );
});
