/**
 * Every migration applies to an empty database, one after another and all at once, and
 * running them again changes nothing.
 */
import { defaultMigrationsDir, migrate, readMigrations } from '../../../shared/catalog/migrate.js';
import { createPgPool, quoteIdent, withPgConnection } from '../../../shared/pg/index.js';
import { describe, expect, test } from '../../support/fixtures.js';

describe('catalog migrations', () => {
  test('apply to an empty database step by step, then are a no-op', async ({ stack, testId }) => {
    const database = `mig_${testId}`;
    await withPgConnection(stack.adminUrl, 'backtrack-test', (db) =>
      db.query(`CREATE DATABASE ${quoteIdent(database)}`),
    );
    const url = new URL(stack.adminUrl);
    url.pathname = `/${database}`;
    const pool = createPgPool(url.toString(), { applicationName: 'backtrack-test', max: 2 });
    try {
      const migrations = readMigrations(defaultMigrationsDir());
      expect(migrations.map((m) => m.name)).toContain('0002_archive');
      for (let n = 1; n <= migrations.length; n++) {
        const report = await migrate(pool, migrations.slice(0, n));
        expect(report.applied).toEqual([migrations[n - 1]?.name]);
      }
      const again = await migrate(pool, migrations);
      expect(again.applied).toEqual([]);
      const tables = await pool.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'backtrack' ORDER BY 1`,
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining([
          'archive_ranges',
          'archive_topics',
          'base_snapshots',
          'segments',
          'snapshot_tables',
          'tenants',
        ]) as unknown,
      );
    } finally {
      await pool.end();
      await withPgConnection(stack.adminUrl, 'backtrack-test', (db) =>
        db.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`),
      );
    }
  });
});
