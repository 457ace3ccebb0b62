/**
 * `backtrack setup` against a real server: refusals name the table and the fix and change
 * nothing; a dry run changes nothing; applying makes the source capturable; a second run
 * changes nothing.
 */
import { applySetup, planSetup } from '../../../services/capture/index.js';
import { sourceConfigFor } from '../../support/capture.js';
import { describe, expect, type SourceFixture, test } from '../../support/fixtures.js';

async function facts(source: SourceFixture) {
  const identities = await source.pool.query(
    `SELECT c.relname, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1`,
    [source.schema],
  );
  const published = await source.pool.query(
    `SELECT tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`,
    [source.publication],
  );
  const slots = await source.pool.query(
    `SELECT plugin FROM pg_replication_slots WHERE slot_name = $1`,
    [source.slot],
  );
  return {
    identities: Object.fromEntries(
      identities.rows.map((r) => [String(r.relname), String(r.relreplident)]),
    ),
    published: published.rows.map((r) => String(r.tablename)),
    slot: slots.rows[0]?.plugin ?? null,
  };
}

describe('backtrack setup', () => {
  test('refuses a tenant table without a primary key, naming it and the fix, and changes nothing', async ({
    source,
  }) => {
    await source.exec(`
      CREATE TABLE orders (id int PRIMARY KEY, tenant_id text NOT NULL);
      CREATE TABLE audit (tenant_id text NOT NULL, line text);`);
    const before = await facts(source);
    const plan = await planSetup(source.pool, sourceConfigFor(source));
    expect(plan.refusals).toEqual([
      expect.stringMatching(
        new RegExp(`table ${source.schema}\\.audit has no primary key.*ADD PRIMARY KEY`),
      ),
    ]);
    await expect(applySetup(source.pool, plan)).rejects.toMatchObject({ code: 'SOURCE_NOT_READY' });
    expect(await facts(source)).toEqual(before);
  });

  test('refuses listed tables that are missing or have no tenant column', async ({ source }) => {
    await source.exec(`CREATE TABLE lookup (code text PRIMARY KEY)`);
    const plan = await planSetup(
      source.pool,
      sourceConfigFor(source, { tables: [`${source.schema}.lookup`, `${source.schema}.nowhere`] }),
    );
    expect(plan.refusals).toEqual(
      expect.arrayContaining([
        `table ${source.schema}.nowhere does not exist: create it, or leave it out of BACKTRACK_CAPTURE_TABLES`,
        `table ${source.schema}.lookup has no tenant_id column: add it, or leave the table out of BACKTRACK_CAPTURE_TABLES`,
      ]),
    );
  });

  test('a dry run changes nothing; applying makes the source capturable; a second run changes nothing', async ({
    source,
  }) => {
    await source.exec(`
      CREATE TABLE customers (id int PRIMARY KEY, tenant_id text NOT NULL);
      CREATE TABLE orders (id int PRIMARY KEY, tenant_id text NOT NULL, customer_id int REFERENCES customers (id));
      CREATE TABLE events (id int, tenant_id text NOT NULL, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      CREATE TABLE countries (code text PRIMARY KEY);`);
    const config = sourceConfigFor(source);
    const before = await facts(source);

    const plan = await planSetup(source.pool, config);
    expect(plan.refusals).toEqual([]);
    expect(plan.tables).toEqual([
      `${source.schema}.customers`,
      `${source.schema}.events`,
      `${source.schema}.orders`,
    ]);
    expect(plan.skipped).toEqual([`${source.schema}.countries`]);
    // The schema history is shared by every capture of the database: another test may have
    // installed it already.
    expect(
      plan.actions.map((a) => `${a.kind} ${a.target}`).filter((a) => !a.startsWith('ddl-history')),
    ).toEqual([
      `create-publication ${source.publication}`,
      `replica-identity ${source.schema}.customers`,
      `replica-identity ${source.schema}.events`,
      `replica-identity ${source.schema}.events_2026`,
      `replica-identity ${source.schema}.orders`,
      `ddl-baseline backtrack.source_ddl`,
      `create-slot ${source.slot}`,
    ]);
    expect(plan.ddlHistory).toBe(true);
    expect(plan.warnings).toEqual([]);
    expect(await facts(source)).toEqual(before);

    await applySetup(source.pool, plan);
    const after = await facts(source);
    expect(after.identities).toMatchObject({
      customers: 'f',
      orders: 'f',
      events: 'f',
      events_2026: 'f',
      countries: 'd',
    });
    expect(after.published).toEqual(['customers', 'events', 'orders', 'source_ddl']);
    // Each captured table's columns are in the history: what a later rename is told from.
    const recorded = await source.pool.query(
      `SELECT DISTINCT table_name FROM backtrack.source_ddl
        WHERE schema_name = $1 AND publications ? $2 ORDER BY 1`,
      [source.schema, source.publication],
    );
    expect(recorded.rows.map((r) => String(r.table_name))).toEqual([
      'customers',
      'events',
      'orders',
    ]);
    expect(after.slot).toBe('pgoutput');

    const again = await planSetup(source.pool, config);
    expect(again.actions).toEqual([]);
    expect(again.refusals).toEqual([]);
  });

  test('brings an existing publication in line: adds new tables, drops ones no longer captured', async ({
    source,
  }) => {
    await source.exec(`
      CREATE TABLE a (id int PRIMARY KEY, tenant_id text);
      CREATE TABLE b (id int PRIMARY KEY, tenant_id text);`);
    const config = sourceConfigFor(source);
    await applySetup(source.pool, await planSetup(source.pool, config));
    await source.exec(
      `CREATE TABLE c (id int PRIMARY KEY, tenant_id text); ALTER TABLE b DROP COLUMN tenant_id;`,
    );
    const plan = await planSetup(source.pool, config);
    expect(plan.actions.map((a) => `${a.kind} ${a.target}`)).toEqual([
      `add-table ${source.schema}.c`,
      `drop-table ${source.schema}.b`,
      `replica-identity ${source.schema}.c`,
      `ddl-baseline backtrack.source_ddl`,
    ]);
    await applySetup(source.pool, plan);
    expect((await facts(source)).published).toEqual(['a', 'c', 'source_ddl']);
  });
});
