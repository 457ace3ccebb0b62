/**
 * Bad input gets one clear line and a distinct exit code, and changes nothing: a bucket
 * that does not exist, a catalog that was never migrated, an unknown tenant, wrong usage.
 */
import { quoteIdent, withPgConnection } from '../../../shared/pg/index.js';
import { archiveEnvironment, DOCS_TABLE } from '../../support/archive.js';
import { setupSource, spawnBacktrack } from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';

describe('archive and snapshot: bad input', () => {
  test(
    'each mistake is named with what to do, with its exit code',
    { timeout: 180_000 },
    async ({ source, kafka, catalog, s3, config, stack, testId }) => {
      await source.exec(DOCS_TABLE);
      await source.exec(`INSERT INTO docs VALUES (1, 'acme', 'one', 0)`);
      await setupSource(source);
      const env = archiveEnvironment(source, { config, kafka, s3, catalog });
      const run = async (args: string[], extra: Record<string, string> = {}) => {
        const child = spawnBacktrack(args, { ...env, ...extra });
        const code = await child.exited;
        return { code, output: child.output() };
      };

      const noBucket = await run(['archive'], {
        BACKTRACK_S3_BUCKET: `missing-${testId.replace(/_/g, '-')}`,
      });
      expect(noBucket.code).toBe(1);
      expect(noBucket.output).toMatch(
        /backtrack archive: STORAGE_NOT_FOUND: bucket missing-\S+ does not exist; create it or fix BACKTRACK_S3_BUCKET/,
      );

      const noBucketSnapshot = await run(['snapshot', '--tenant', 'acme'], {
        BACKTRACK_S3_BUCKET: `missing-${testId.replace(/_/g, '-')}`,
      });
      expect(noBucketSnapshot.code).toBe(1);
      expect(noBucketSnapshot.output).toContain(
        'does not exist; create it or fix BACKTRACK_S3_BUCKET',
      );

      const empty = `empty_${testId}`;
      await withPgConnection(stack.adminUrl, 'backtrack-test', (db) =>
        db.query(`CREATE DATABASE ${quoteIdent(empty)}`),
      );
      try {
        const url = new URL(catalog.url);
        url.pathname = `/${empty}`;
        const unmigrated = await run(['archive'], { BACKTRACK_CATALOG_URL: url.toString() });
        expect(unmigrated.code).toBe(3);
        expect(unmigrated.output).toContain('has no archive tables: run `backtrack migrate` first');
      } finally {
        await withPgConnection(stack.adminUrl, 'backtrack-test', (db) =>
          db.query(`DROP DATABASE IF EXISTS ${quoteIdent(empty)} WITH (FORCE)`),
        );
      }

      // The log must exist before a snapshot can be aligned with it.
      const noLog = await run(['snapshot', '--tenant', 'acme']);
      expect(noLog.code).toBe(2);
      expect(noLog.output).toContain(
        'does not exist: start `backtrack capture` before taking snapshots',
      );

      const admin = await kafka.port.admin();
      try {
        await admin.ensureTopic({ name: `${kafka.topicPrefix}.txlog`, partitions: 3 });
      } finally {
        await admin.disconnect();
      }
      const unknown = await run(['snapshot', '--tenant', 'Acme']);
      expect(unknown.code).toBe(2);
      expect(unknown.output).toContain(
        'TENANT_NOT_FOUND: tenant "Acme" has no rows in the 1 captured table(s) and the catalog has never seen it; check the id (ids are case-sensitive)',
      );
      expect(
        (await catalog.pool.query('SELECT count(*)::int AS n FROM backtrack.base_snapshots'))
          .rows[0]?.n,
      ).toBe(0);
      expect(
        (await catalog.pool.query('SELECT count(*)::int AS n FROM backtrack.tenants')).rows[0]?.n,
      ).toBe(0);

      for (const args of [
        ['snapshot'],
        ['snapshot', '--tenant', 'acme', '--all'],
        ['snapshot', '--tenant', 'acme', '--kind', 'weekly'],
        ['restore-points'],
      ]) {
        const usage = await run(args);
        expect(usage.code, usage.output).toBe(2);
        expect(usage.output).toContain('VALIDATION_FAILED');
      }

      const reserved = await run(['snapshot', '--tenant', '_all']);
      expect(reserved.code).toBe(2);
      expect(reserved.output).toContain('names a stream of the log, not a tenant');

      // And with everything right, the same snapshot works.
      const ok = await run(['snapshot', '--tenant', 'acme', '--json']);
      expect(ok.code, ok.output).toBe(0);
      expect(ok.output).toContain('"rows":"1"');
    },
  );
});
