/**
 * Restores asked for wrongly are refused with an error that says what is wrong and what to
 * do, and nothing is written: no schema created, no row changed, no lock left behind.
 */
import { spawnBacktrack } from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';

describe('restore: bad input', () => {
  test(
    'each mistake gets its own clear refusal and leaves everything as it was',
    { timeout: 300_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const env = await restoreEnvironment({ source, catalog, kafka, s3, config, log });
      try {
        await source.exec(
          `INSERT INTO accounts VALUES (1, 'ta', 'a', 'pro'), (2, 'tb', 'b', 'free')`,
        );
        const beforeWindow = await env.now();
        await env.snapshotter.take({ tenant: 'ta', kind: 'full', createdBy: 'test' });
        await env.snapshotter.take({ tenant: 'tb', kind: 'full', createdBy: 'test' });
        await source.exec(`UPDATE accounts SET name = 'a2' WHERE id = 1`);
        const good = await env.now();
        await source.pool.query(`CREATE SCHEMA ${source.schema}_taken`);
        // Only the schemas this test could create: other tests create theirs concurrently.
        const ours = () =>
          source.pool.query(
            `SELECT count(*)::int AS n FROM pg_namespace WHERE starts_with(nspname, $1) OR nspname = 'Bad Name;'`,
            [source.schema],
          );
        const schemasBefore = await ours();
        const digests = [await env.digest('ta'), await env.digest('tb')];

        const restore = (overrides: Record<string, unknown>) =>
          env.restorer.restore({
            tenant: 'ta',
            target: good,
            mode: { kind: 'in-place', confirm: true },
            dryRun: false,
            actor: 'test',
            ...overrides,
          });
        const cases: [string, Record<string, unknown>, string, RegExp][] = [
          [
            'a target in the future',
            { target: '2999-01-01T00:00:00Z' },
            'VALIDATION_FAILED',
            /is in the future/,
          ],
          [
            'a target before the window',
            { target: beforeWindow },
            'TARGET_OUTSIDE_WINDOW',
            /before the recoverable window of tenant ta, which starts at/,
          ],
          [
            'a malformed target',
            { target: 'last tuesday' },
            'VALIDATION_FAILED',
            /give an ISO-8601 instant with a zone/,
          ],
          [
            'a target without a zone',
            { target: '2026-11-20T10:15:00' },
            'VALIDATION_FAILED',
            /with a zone/,
          ],
          [
            'an unknown tenant',
            { tenant: 'nobody' },
            'TENANT_NOT_FOUND',
            /tenant "nobody" is unknown to the catalog/,
          ],
          [
            'an unknown table',
            { tables: ['accounts', 'nosuch'] },
            'VALIDATION_FAILED',
            /unknown table "nosuch": not a captured table of this tenant; captured tables are/,
          ],
          [
            'an in-place restore without confirmation',
            { mode: { kind: 'in-place', confirm: false } },
            'VALIDATION_FAILED',
            /add --confirm/,
          ],
          [
            'a target schema that exists',
            { mode: { kind: 'schema', schema: `${source.schema}_taken` } },
            'VALIDATION_FAILED',
            /already exists/,
          ],
          [
            'a target schema that is not an identifier',
            { mode: { kind: 'schema', schema: 'Bad Name;' } },
            'VALIDATION_FAILED',
            /lower-case identifier/,
          ],
        ];
        for (const [what, overrides, code, message] of cases) {
          const attempt = restore(overrides);
          await expect(attempt, what).rejects.toMatchObject({ code });
          await expect(attempt, what).rejects.toThrow(message);
        }

        const schemasAfter = await ours();
        expect(schemasAfter.rows[0]?.n).toBe(schemasBefore.rows[0]?.n);
        expect([await env.digest('ta'), await env.digest('tb')]).toEqual(digests);
        const locks = await catalog.pool.query(
          `SELECT count(*)::int AS n FROM pg_locks
          WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
        expect(locks.rows[0]?.n).toBe(0);

        // The command line gives the same refusal, with an exit code scripts can rely on.
        const child = spawnBacktrack(
          ['restore', '--tenant', 'ta', '--to', good, '--in-place'],
          env.processEnvironment(),
        );
        expect(await child.exited).toBe(2);
        expect(child.output()).toMatch(
          /backtrack restore: VALIDATION_FAILED: an in-place restore replaces tenant ta's live rows: add --confirm/,
        );
        const outside = spawnBacktrack(
          ['restore', '--tenant', 'ta', '--to', beforeWindow, '--dry-run'],
          env.processEnvironment(),
        );
        expect(await outside.exited).toBe(6);
      } finally {
        await env.close();
      }
    },
  );
});
