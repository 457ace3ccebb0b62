/**
 * A snapshot taken while other sessions commit — one in progress when it starts and
 * committing right after, one beginning and committing between the snapshot's start and its
 * first COPY, and a steady stream before, during and after — plus the events invisible to
 * it (xid8 alignment), equals the tenant's true state at a later instant. Every invisible
 * event sits at or after the log offset recorded before the snapshot began.
 */
import { belongsAfterSnapshot, widenXid } from '../../../shared/archive/alignment.js';
import { requireSnapshot } from '../../../shared/catalog/base-snapshots.js';
import { listSnapshotTables } from '../../../shared/catalog/snapshot-tables.js';
import { TENANT_ALL } from '../../../shared/events/index.js';
import { captureInProcess, setupSource, waitForLog } from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';
import {
  decodeCopyText,
  keyed,
  readSnapshotRows,
  replay,
  snapshotterFor,
} from '../../support/snapshot.js';

const TABLE = `CREATE TABLE accounts (
  id integer PRIMARY KEY,
  tenant_id text NOT NULL,
  balance integer NOT NULL,
  note text
)`;

describe('snapshot: alignment with the log', () => {
  test(
    'snapshot rows plus the invisible events equal the true state later',
    { timeout: 180_000 },
    async ({ source, kafka, catalog, s3, log, config }) => {
      await source.exec(TABLE);
      await source.exec(
        `INSERT INTO accounts SELECT g, CASE WHEN g % 3 = 0 THEN 'globex' ELSE 'acme' END, 100, 'seed' FROM generate_series(1, 300) g`,
      );
      await setupSource(source);
      const capture = await captureInProcess(source, kafka, log);
      const snapshotter = await snapshotterFor({ config, source, kafka, s3, catalog, log });
      const schema = source.schema;
      const inProgress = await source.pool.connect();
      const between = await source.pool.connect();
      let writing = true;
      let nextId = 10_000;
      const writer = (async () => {
        let i = 0;
        while (writing) {
          const id = nextId++;
          await source.exec(
            `UPDATE accounts SET balance = balance + 1, note = 'w${i}' WHERE id = ${1 + (i % 200)};
           INSERT INTO accounts VALUES (${id}, '${i % 2 === 0 ? 'acme' : 'globex'}', ${i}, 'new');
           DELETE FROM accounts WHERE id = ${id - 7} AND ${i % 5 === 0}`,
          );
          i += 1;
        }
      })();
      try {
        // A transaction in progress when the snapshot starts (it holds an xid: it wrote).
        await inProgress.query('BEGIN');
        await inProgress.query(
          `UPDATE "${schema}".accounts SET balance = -1, note = 'in progress' WHERE id = 1`,
        );
        await inProgress.query(
          `INSERT INTO "${schema}".accounts VALUES (5001, 'acme', 5001, 'in progress')`,
        );
        const inProgressXid = BigInt(
          String((await inProgress.query('SELECT pg_current_xact_id()::text AS x')).rows[0]?.x),
        );
        let betweenXid = 0n;

        const result = await snapshotter.take({
          tenant: 'acme',
          kind: 'full',
          createdBy: 'test',
          hooks: {
            afterSnapshotTaken: async () => {
              await inProgress.query('COMMIT');
              await between.query('BEGIN');
              await between.query(
                `UPDATE "${schema}".accounts SET balance = -2, note = 'between' WHERE id = 2`,
              );
              await between.query(`DELETE FROM "${schema}".accounts WHERE id = 4`);
              await between.query(
                `INSERT INTO "${schema}".accounts VALUES (5002, 'acme', 5002, 'between')`,
              );
              betweenXid = BigInt(
                String((await between.query('SELECT pg_current_xact_id()::text AS x')).rows[0]?.x),
              );
              await between.query('COMMIT');
            },
          },
        });
        // The two kinds of invisible transactions really happened.
        expect(result.xids.xip).toContain(inProgressXid);
        expect(betweenXid).toBeGreaterThanOrEqual(result.xids.xmax);

        // Keep writing a little after the snapshot, then fix a later instant.
        const afterSnapshot = nextId;
        while (nextId < afterSnapshot + 20) await new Promise((resolve) => setTimeout(resolve, 20));
        writing = false;
        await writer;
        await source.exec(`INSERT INTO accounts VALUES (99999, 'acme', 0, 'sentinel')`);
        const truth = await source.pool.query(
          `SELECT id::text, tenant_id, balance::text, note FROM "${schema}".accounts WHERE tenant_id = 'acme'`,
        );
        const events = await waitForLog(
          kafka.port,
          kafka.topicPrefix,
          (all) =>
            all.some(
              (e) => e.event.after?.[3]?.kind === 'text' && e.event.after[3].text === 'sentinel',
            ),
          'the sentinel in the log',
        );

        // The snapshot's rows, then every acme event whose transaction it cannot see.
        const snapshot = await requireSnapshot(catalog.pool, result.id);
        const [table] = await listSnapshotTables(catalog.pool, result.id);
        if (!table?.objectKey || !snapshot.xids || snapshot.logOffset === null)
          throw new Error('incomplete snapshot');
        const columns = table.definition.copyColumns;
        const rows = keyed(await readSnapshotRows(s3.store, table.objectKey), columns, ['id']);
        expect(BigInt(rows.size)).toBe(table.rows);
        const snapshotOnly = new Map(rows);
        const mine = events
          .filter((e) => e.event.tenant === 'acme' || e.event.tenant === TENANT_ALL)
          .sort((a, b) =>
            a.event.commitLsn === b.event.commitLsn
              ? a.event.sequence - b.event.sequence
              : a.event.commitLsn < b.event.commitLsn
                ? -1
                : 1,
          );
        const xids = snapshot.xids;
        const after = mine.filter((e) => belongsAfterSnapshot(e.event.xid, xids));
        // Every invisible event is at or after the offset read before the snapshot began.
        for (const e of after) {
          expect(e.partition).toBe(snapshot.logPartition);
          expect(e.offset).toBeGreaterThanOrEqual(snapshot.logOffset);
        }
        expect(after.some((e) => widenXid(e.event.xid, xids.xmax) === inProgressXid)).toBe(true);
        expect(after.some((e) => widenXid(e.event.xid, xids.xmax) === betweenXid)).toBe(true);
        replay(
          rows,
          after.map((e) => e.event),
          ['id'],
        );

        const expected = keyed(
          truth.rows.map((r) => columns.map((c) => (typeof r[c] === 'string' ? r[c] : null))),
          columns,
          ['id'],
        );
        expect(rows).toEqual(expected);
        // The snapshot alone is not the later state: the events did the work.
        expect(snapshotOnly).not.toEqual(expected);
        expect(decodeCopyText('1\tacme\t\\N\n')).toEqual([['1', 'acme', null]]);
      } finally {
        writing = false;
        await writer.catch(() => undefined);
        inProgress.release(true);
        between.release(true);
        await snapshotter.close();
        await capture.stop();
      }
    },
  );
});
