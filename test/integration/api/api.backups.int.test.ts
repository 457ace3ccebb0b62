/**
 * Deleting backups through the control API follows the retention window: a backup that
 * instants of the window still need (the newest one at or before its start, or one taken
 * inside it) is refused with BACKUP_IN_USE and keeps its objects; one older than that is
 * deleted, objects first, then its catalog rows.
 */
import { describe, expect, test } from '../../support/fixtures.js';
import { restoreEnvironment } from '../../support/restore.js';

import { apiClient, startApi, token } from './harness.js';

describe('control API: deleting backups', () => {
  test(
    'refused while the retention window needs the backup, done (objects and rows) once it does not',
    { timeout: 300_000 },
    async ({ source, catalog, kafka, s3, config, log }) => {
      const fixtures = { source, catalog, kafka, s3, config, log };
      const env = await restoreEnvironment(fixtures);
      const stack = await startApi(fixtures, { workers: 0 });
      const api = apiClient(stack.api.url);
      const objectsOf = async (id: string) => {
        const keys: string[] = [];
        for await (const object of s3.store.list()) {
          if (object.key.includes(`/snapshots/${id}/`)) keys.push(object.key);
        }
        return keys;
      };
      try {
        const admin = await token('admin', 'ta');
        await source.exec(
          `INSERT INTO accounts SELECT g, 'ta', 'account ' || g, 'pro' FROM generate_series(1, 5) g`,
        );
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          ids.push(
            (await env.snapshotter.take({ tenant: 'ta', kind: 'full', createdBy: 'test' })).id,
          );
        }
        const [oldest = '', anchor = '', recent = ''] = ids;
        // Backdated in the catalog: 50 and 40 days old; the retention window is 30 days.
        await catalog.pool.query(
          `UPDATE backtrack.base_snapshots SET taken_at = now() - make_interval(days => $2)
            WHERE id = $1`,
          [oldest, 50],
        );
        await catalog.pool.query(
          `UPDATE backtrack.base_snapshots SET taken_at = now() - make_interval(days => $2)
            WHERE id = $1`,
          [anchor, 40],
        );
        for (const id of ids) expect((await objectsOf(id)).length).toBeGreaterThan(0);

        for (const [id, why] of [
          [anchor, /newest snapshot at or before the start of the 30-day retention window/],
          [recent, /taken inside the 30-day retention window/],
        ] as const) {
          const refused = await api.call('DELETE', `/v1/backups/${id}`, { token: admin });
          expect(refused.status, refused.text).toBe(409);
          expect(refused.body).toMatchObject({ error: { code: 'BACKUP_IN_USE' } });
          expect(refused.text).toMatch(why);
          expect((await objectsOf(id)).length).toBeGreaterThan(0);
          expect((await api.call('GET', `/v1/backups/${id}`, { token: admin })).status).toBe(200);
        }

        const deleted = await api.call('DELETE', `/v1/backups/${oldest}`, { token: admin });
        expect(deleted.status, deleted.text).toBe(200);
        expect(deleted.body).toMatchObject({ deleted: true });
        expect(await objectsOf(oldest)).toEqual([]);
        expect((await api.call('GET', `/v1/backups/${oldest}`, { token: admin })).status).toBe(404);
        const rows = await catalog.pool.query(
          'SELECT count(*)::int AS n FROM backtrack.base_snapshots WHERE id = $1',
          [oldest],
        );
        expect(rows.rows[0]).toEqual({ n: 0 });
        // The audit log has the refusals and the deletion.
        const audited = await catalog.pool.query(
          `SELECT outcome FROM backtrack.audit_log WHERE action = 'backup.delete' ORDER BY id`,
        );
        expect(audited.rows.map((r) => (r as { outcome: string }).outcome)).toEqual([
          'failure',
          'failure',
          'success',
        ]);
      } finally {
        await stack.stop();
        await env.close();
      }
    },
  );
});
