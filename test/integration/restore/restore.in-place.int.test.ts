/**
 * In-place restores are atomic: `backtrack restore --in-place` killed with SIGKILL at each
 * step (after the pre-restore snapshot, after deleting, after loading, after verifying)
 * leaves the tenant exactly as it was and every other tenant untouched. Then a restore
 * completes and the tenant equals its state at T; a rollback gives back the exact state
 * before it; other tenants never change.
 */
import { RESTORE_FAILPOINTS } from '../../../services/restore/index.js';
import { listRestoreOperations } from '../../../shared/catalog/restore-operations.js';
import { quoteIdent } from '../../../shared/pg/index.js';
import { spawnBacktrack, waitForLog } from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';

const TENANTS = ['ta', 'tb', 'tc'];

describe('in-place restore', () => {
  test(
    'killed at every step it leaves the tenant as it was; done, it is exact; rolled back, as before',
    { timeout: 600_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const fixtures = { source, catalog, kafka, s3, config, log };
      const env = await restoreEnvironment(fixtures);
      const s = quoteIdent(source.schema);
      try {
        for (const [t, tenant] of TENANTS.entries()) {
          const base = (t + 1) * 1000;
          await source.exec(`
          INSERT INTO accounts SELECT ${base} + g, '${tenant}', 'account ' || g, 'pro' FROM generate_series(1, 20) g;
          INSERT INTO documents SELECT ${base} + 100 + g, '${tenant}', ${base} + 1 + (g % 20), 'doc ' || g,
                 CASE WHEN g % 5 = 0 THEN repeat(md5(g::text), 300) ELSE 'short' END, jsonb_build_object('g', g)
            FROM generate_series(1, 40) g;
          INSERT INTO notes SELECT ${base} + 500 + g, '${tenant}', ${base} + 100 + g, 'note ' || g FROM generate_series(1, 10) g;`);
        }
        for (const tenant of TENANTS)
          await env.snapshotter.take({ tenant, kind: 'full', createdBy: 'test' });
        await source.exec(`
        UPDATE documents SET title = 'edited' WHERE tenant_id = 'ta' AND id % 3 = 0;
        UPDATE accounts SET id = 1900 WHERE id = 1001;
        DELETE FROM documents WHERE tenant_id = 'ta' AND id % 7 = 0;
        INSERT INTO notes VALUES (1999, 'ta', NULL, 'after the snapshot');
        UPDATE accounts SET plan = 'team' WHERE tenant_id = 'tb';`);
        const target = await env.now();
        const truth = await env.state('ta');

        // The accident: tenant ta loses its documents and its account names.
        await source.exec(`
        DELETE FROM documents WHERE tenant_id = 'ta';
        UPDATE accounts SET name = 'oops' WHERE tenant_id = 'ta';`);
        const before = new Map(
          await Promise.all(TENANTS.map(async (t) => [t, await env.digest(t)] as const)),
        );

        for (const failpoint of Object.values(RESTORE_FAILPOINTS)) {
          const child = spawnBacktrack(
            ['restore', '--tenant', 'ta', '--to', target, '--in-place', '--confirm'],
            env.processEnvironment({ BACKTRACK_FAILPOINTS: failpoint }),
          );
          expect(await child.exited, `${failpoint}: ${child.output()}`).toBe('SIGKILL');
          for (const tenant of TENANTS) {
            expect(await env.digest(tenant), `${tenant} after a kill at ${failpoint}`).toBe(
              before.get(tenant),
            );
          }
        }

        const summary = await env.restorer.restore({
          tenant: 'ta',
          target,
          mode: { kind: 'in-place', confirm: true },
          dryRun: false,
          actor: 'test',
        });
        expect(await env.state('ta')).toEqual(truth);
        for (const tenant of ['tb', 'tc'])
          expect(await env.digest(tenant)).toBe(before.get(tenant));
        expect(summary.restored.map((r) => r.table).sort()).toEqual(
          ['accounts', 'documents', 'notes'].map((t) => `${source.schema}.${t}`),
        );
        expect(summary.preRestoreSnapshotId).toBeDefined();
        // The restore's writes reach the capture stream tagged as restore-originated.
        const tag = `backtrack-restore:${summary.id}`;
        const logged = await waitForLog(
          fixtures.kafka.port,
          fixtures.kafka.topicPrefix,
          (events) => events.some((e) => e.event.origin === tag),
          'the restore-tagged changes',
        );
        const tagged = logged.filter((e) => e.event.origin === tag);
        expect(tagged.every((e) => e.key === 'ta')).toBe(true);
        expect(
          tagged.some((e) => e.event.op === 'delete') &&
            tagged.some((e) => e.event.op === 'insert'),
        ).toBe(true);

        await env.restorer.rollback({
          snapshotId: summary.preRestoreSnapshotId ?? '',
          confirm: true,
          dryRun: false,
          reason: 'test',
          actor: 'test',
        });
        for (const tenant of TENANTS)
          expect(await env.digest(tenant), tenant).toBe(before.get(tenant));
        const rows = await source.pool.query(
          `SELECT count(*)::int AS n FROM ${s}.documents WHERE tenant_id = 'ta'`,
        );
        expect(rows.rows[0]?.n).toBe(0);

        // The catalog remembers each: the killed runs abandoned, the restore and rollback done.
        const operations = (await listRestoreOperations(catalog.pool, { tenant: 'ta' })).reverse();
        expect(operations.map((o) => `${o.kind}:${o.status}`)).toEqual([
          ...Object.values(RESTORE_FAILPOINTS).map(() => 'restore:abandoned'),
          'restore:completed',
          'rollback:completed',
        ]);
        expect(operations.at(-1)).toMatchObject({
          reason: 'test',
          actor: 'test',
          rollbackOfSnapshotId: summary.preRestoreSnapshotId,
        });
        const rowsAtT = Object.values(truth).reduce((n, rows) => n + rows.length, 0);
        expect(operations.at(-2)?.rowsRestored).toBe(BigInt(rowsAtT));
      } finally {
        await env.close();
      }
    },
  );

  test('a second restore of a tenant while one runs: RESTORE_IN_PROGRESS, nothing written', async ({
    source,
    catalog,
    kafka,
    s3,
    config,
    log,
  }) => {
    const fixtures = { source, catalog, kafka, s3, config, log };
    const env = await restoreEnvironment(fixtures);
    try {
      await source.exec(`INSERT INTO accounts VALUES (1, 'ta', 'a', 'pro')`);
      await env.snapshotter.take({ tenant: 'ta', kind: 'full', createdBy: 'test' });
      const target = await env.now();
      const before = await env.digest('ta');
      const holder = await catalog.pool.connect();
      try {
        await holder.query(
          `SELECT pg_advisory_lock(hashtextextended('backtrack:tenant-restore:ta', 0))`,
        );
        await expect(
          env.restorer.restore({
            tenant: 'ta',
            target,
            mode: { kind: 'in-place', confirm: true },
            dryRun: false,
            actor: 'test',
          }),
        ).rejects.toMatchObject({ code: 'RESTORE_IN_PROGRESS' });
      } finally {
        holder.release(true);
      }
      expect(await env.digest('ta')).toBe(before);
    } finally {
      await env.close();
    }
  });
});
