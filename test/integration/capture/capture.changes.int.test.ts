/**
 * What capture makes of each kind of change: unchanged TOAST, DDL between transactions,
 * truncates, multi-table transactions, savepoints rolled back, aborted transactions, rows
 * that move between tenants, rows without a tenant, and transactions Backtrack tagged.
 */
import { randomBytes } from 'node:crypto';

import { TENANT_ALL, TENANT_GLOBAL } from '../../../shared/events/index.js';
import { isDdlEvent, parseDdlEvent } from '../../../shared/source/ddl-history.js';
import {
  captureInProcess,
  type LoggedEvent,
  readTxlog,
  setupSource,
  textOf,
  waitForLog,
} from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';

const SCHEMA_SQL = `
  CREATE TABLE accounts (id int PRIMARY KEY, tenant_id text, name text NOT NULL);
  CREATE TABLE documents (
    id int PRIMARY KEY,
    tenant_id text,
    account_id int REFERENCES accounts (id),
    title text,
    body text
  );`;

/** The events of a transaction that touched `marker` (a title or name), in log order. */
function ofTable(events: readonly LoggedEvent[], table: string) {
  return events.filter((e) => e.event.table === table).map((e) => e.event);
}

describe('capture: changes', () => {
  test('an update that leaves a 100 KB column alone marks it unchanged-TOAST', async ({
    source,
    kafka,
    log,
  }) => {
    await source.exec(SCHEMA_SQL);
    await setupSource(source);
    const capture = await captureInProcess(source, kafka, log);
    try {
      // Random text: a repetitive one compresses into the row and is never TOASTed.
      const big = randomBytes(75_000).toString('base64');
      expect(big).toHaveLength(100_000);
      await source.exec(`INSERT INTO documents VALUES (1, 'acme', NULL, 'v1', $1)`, [big]);
      await source.exec(`UPDATE documents SET title = 'v2' WHERE id = 1`);
      const events = await waitForLog(
        kafka.port,
        kafka.topicPrefix,
        (e) => e.length === 2,
        'insert and update',
      );
      const [insert, update] = ofTable(events, 'documents');
      const body = update?.relation.columns.findIndex((c) => c.name === 'body') ?? -1;
      expect(insert?.after?.[body]).toEqual({ kind: 'text', text: big });
      expect(update?.op).toBe('update');
      expect(update?.after?.[body]).toEqual({ kind: 'unchanged-toast' });
      // REPLICA IDENTITY FULL: the old row still carries the value.
      expect(update?.before?.[body]).toEqual({ kind: 'text', text: big });
      expect(update && textOf(update, 'after', 'title')).toBe('v2');
    } finally {
      await capture.stop();
    }
  });

  test('ADD COLUMN and DROP COLUMN between transactions give new relation versions', async ({
    source,
    kafka,
    log,
  }) => {
    await source.exec(SCHEMA_SQL);
    await setupSource(source);
    const capture = await captureInProcess(source, kafka, log);
    try {
      await source.exec(`INSERT INTO accounts VALUES (1, 'acme', 'first')`);
      await source.exec(`ALTER TABLE accounts ADD COLUMN plan text DEFAULT 'free'`);
      await source.exec(`INSERT INTO accounts VALUES (2, 'acme', 'second', 'pro')`);
      await source.exec(`ALTER TABLE accounts DROP COLUMN name`);
      await source.exec(`INSERT INTO accounts VALUES (3, 'acme', 'team')`);
      const events = await waitForLog(
        kafka.port,
        kafka.topicPrefix,
        (e) => e.length === 3,
        'three inserts',
      );
      const [v1, v2, v3] = ofTable(events, 'accounts');
      const names = (e: typeof v1) => e?.relation.columns.map((c) => c.name);
      expect(names(v1)).toEqual(['id', 'tenant_id', 'name']);
      expect(names(v2)).toEqual(['id', 'tenant_id', 'name', 'plan']);
      expect(names(v3)).toEqual(['id', 'tenant_id', 'plan']);
      expect(new Set([v1, v2, v3].map((e) => e?.relation.version)).size).toBe(3);
      // Rows older than the column read its DEFAULT, which Postgres keeps as its missing value.
      expect(v2?.relation.columns.find((c) => c.name === 'plan')?.missing).toBe('free');
      expect(v2?.relation.columns.find((c) => c.name === 'name')?.missing ?? null).toBeNull();
      expect(v3 && textOf(v3, 'after', 'plan')).toBe('team');
      // Each column set also goes to every tenant (`_all`), just before the change that
      // brought it, in the same transaction.
      const schema = (await readTxlog(kafka.port, kafka.topicPrefix, { schemaEvents: true }))
        .filter((e) => e.event.op === 'schema')
        .map((e) => e.event);
      expect(schema.map((e) => [e.tenant, names(e)])).toEqual([
        [TENANT_ALL, ['id', 'tenant_id', 'name']],
        [TENANT_ALL, ['id', 'tenant_id', 'name', 'plan']],
        [TENANT_ALL, ['id', 'tenant_id', 'plan']],
      ]);
      for (const [i, e] of schema.entries()) {
        const insert = [v1, v2, v3][i];
        expect(e.commitLsn).toBe(insert?.commitLsn);
        expect(e.sequence).toBe((insert?.sequence ?? 0) - 1);
        expect(e.relation.version).toBe(insert?.relation.version);
      }
      // The schema history records each DDL in its own transaction, between the inserts.
      const ddl = (await readTxlog(kafka.port, kafka.topicPrefix, { schemaEvents: true }))
        .map((e) => e.event)
        .filter(isDdlEvent);
      expect(
        ddl.map((e) => {
          const change = parseDdlEvent(e);
          return [e.tenant, change.command, change.columns.map((c) => c.name)];
        }),
      ).toEqual([
        [TENANT_ALL, 'ALTER TABLE', ['id', 'tenant_id', 'name', 'plan']],
        [TENANT_ALL, 'ALTER TABLE', ['id', 'tenant_id', 'plan']],
      ]);
      const [add, drop] = ddl;
      expect(add && parseDdlEvent(add).columns.at(-1)?.missing).toBe('free');
      // In commit order with the data: each DDL between the inserts around it.
      const order = [v1, add, v2, drop, v3].map((e) => e?.commitLsn ?? 0n);
      expect([...order].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(order);
    } finally {
      await capture.stop();
    }
  });

  test('one transaction over two tables: one commit position, sequences in statement order', async ({
    source,
    kafka,
    log,
  }) => {
    await source.exec(SCHEMA_SQL);
    await setupSource(source);
    const capture = await captureInProcess(source, kafka, log);
    try {
      await source.exec(`
        INSERT INTO accounts VALUES (1, 'acme', 'a');
        INSERT INTO documents VALUES (10, 'acme', 1, 'd1', 'x');
        UPDATE accounts SET name = 'a2' WHERE id = 1;
        DELETE FROM documents WHERE id = 10;`);
      const events = await waitForLog(
        kafka.port,
        kafka.topicPrefix,
        (e) => e.length === 4,
        'four changes',
      );
      const ordered = events.map((e) => e.event).sort((a, b) => a.sequence - b.sequence);
      expect(ordered.map((e) => `${e.table}:${e.op}`)).toEqual([
        'accounts:insert',
        'documents:insert',
        'accounts:update',
        'documents:delete',
      ]);
      // Sequences count every event of the transaction: each table's column set goes to
      // `_all` just before its first change (sequences 0 and 2).
      expect(ordered.map((e) => e.sequence)).toEqual([1, 3, 4, 5]);
      const schema = (await readTxlog(kafka.port, kafka.topicPrefix, { schemaEvents: true }))
        .map((e) => e.event)
        .filter((e) => e.op === 'schema');
      expect(schema.map((e) => `${e.table}:${e.sequence}`)).toEqual(['accounts:0', 'documents:2']);
      expect(new Set(ordered.map((e) => e.commitLsn)).size).toBe(1);
      expect(new Set(ordered.map((e) => e.xid)).size).toBe(1);
      expect(ordered[3] && textOf(ordered[3], 'before', 'title')).toBe('d1');
    } finally {
      await capture.stop();
    }
  });

  test('a rolled-back savepoint and an aborted transaction leave no trace', async ({
    source,
    kafka,
    log,
  }) => {
    await source.exec(SCHEMA_SQL);
    await setupSource(source);
    const capture = await captureInProcess(source, kafka, log);
    try {
      const session = await source.pool.connect();
      try {
        await session.query(`SET search_path TO "${source.schema}"`);
        await session.query('BEGIN');
        await session.query(`INSERT INTO accounts VALUES (1, 'acme', 'kept')`);
        await session.query('SAVEPOINT s');
        await session.query(`INSERT INTO accounts VALUES (2, 'acme', 'undone')`);
        await session.query(`UPDATE accounts SET name = 'undone too' WHERE id = 1`);
        await session.query('ROLLBACK TO SAVEPOINT s');
        await session.query(`INSERT INTO accounts VALUES (3, 'acme', 'kept too')`);
        await session.query('COMMIT');
        await session.query('BEGIN');
        await session.query(`INSERT INTO accounts VALUES (4, 'acme', 'aborted')`);
        await session.query('ROLLBACK');
      } finally {
        session.release();
      }
      // A later transaction proves the log has moved past the aborted one.
      await source.exec(`INSERT INTO accounts VALUES (5, 'acme', 'sentinel')`);
      const events = await waitForLog(
        kafka.port,
        kafka.topicPrefix,
        (e) => e.some((x) => textOf(x.event, 'after', 'name') === 'sentinel'),
        'the sentinel',
      );
      expect(events.map((e) => textOf(e.event, 'after', 'name'))).toEqual([
        'kept',
        'kept too',
        'sentinel',
      ]);
    } finally {
      await capture.stop();
    }
  });

  test('TRUNCATE of a tenant table goes to _all; of a table without tenants to _global', async ({
    source,
    kafka,
    log,
  }) => {
    await source.exec(`${SCHEMA_SQL}
      CREATE TABLE settings (key text PRIMARY KEY, value text);`);
    await setupSource(source, {
      tables: [`${source.schema}.accounts`, `${source.schema}.documents`],
    });
    // A global table can be listed explicitly only without the tenant check; add it by hand.
    await source.pool.query(`ALTER TABLE "${source.schema}".settings REPLICA IDENTITY FULL`);
    await source.pool.query(
      `ALTER PUBLICATION "${source.publication}" ADD TABLE "${source.schema}".settings`,
    );
    const capture = await captureInProcess(source, kafka, log);
    try {
      await source.exec(`INSERT INTO accounts VALUES (1, 'acme', 'a'), (2, 'globex', 'b')`);
      await source.exec(`INSERT INTO settings VALUES ('theme', 'dark')`);
      await source.exec(`TRUNCATE documents, accounts`);
      await source.exec(`TRUNCATE settings`);
      const events = await waitForLog(
        kafka.port,
        kafka.topicPrefix,
        (e) => e.filter((x) => x.event.op === 'truncate').length === 3,
        'three truncates',
      );
      const truncates = events.filter((e) => e.event.op === 'truncate');
      expect(truncates.map((e) => [e.event.table, e.key]).sort()).toEqual(
        [
          ['accounts', TENANT_ALL],
          ['documents', TENANT_ALL],
          ['settings', TENANT_GLOBAL],
        ].sort(),
      );
      const insertSetting = events.find(
        (e) => e.event.table === 'settings' && e.event.op === 'insert',
      );
      expect(insertSetting?.key).toBe(TENANT_GLOBAL);
    } finally {
      await capture.stop();
    }
  });

  test('a row that changes tenant leaves one history and enters the other', async ({
    source,
    kafka,
    log,
  }) => {
    await source.exec(SCHEMA_SQL);
    await setupSource(source);
    const capture = await captureInProcess(source, kafka, log);
    try {
      const body = 'b'.repeat(50_000);
      await source.exec(`INSERT INTO documents VALUES (1, 'acme', NULL, 't', $1)`, [body]);
      await source.exec(`UPDATE documents SET tenant_id = 'globex' WHERE id = 1`);
      await source.exec(`INSERT INTO documents VALUES (2, NULL, NULL, 'no tenant', 'x')`);
      const events = await waitForLog(
        kafka.port,
        kafka.topicPrefix,
        (e) => e.length === 4,
        'four events',
      );
      const moved = events.filter(
        (e) => e.event.commitLsn === events.find((x) => x.event.op === 'delete')?.event.commitLsn,
      );
      expect(moved.map((e) => [e.key, e.event.op])).toEqual(
        expect.arrayContaining([
          ['acme', 'delete'],
          ['globex', 'insert'],
        ]),
      );
      const entered = moved.find((e) => e.key === 'globex')?.event;
      // The unchanged body is filled in from the old row, so the new tenant's history is whole.
      expect(entered && textOf(entered, 'after', 'body')).toBe(body);
      expect(
        events.find(
          (e) => e.event.op === 'insert' && textOf(e.event, 'after', 'title') === 'no tenant',
        )?.key,
      ).toBe(TENANT_GLOBAL);
    } finally {
      await capture.stop();
    }
  });

  test('a transaction tagged by Backtrack carries the tag as its origin', async ({
    source,
    kafka,
    log,
  }) => {
    await source.exec(SCHEMA_SQL);
    await setupSource(source);
    const capture = await captureInProcess(source, kafka, log);
    try {
      await source.exec(`
        SELECT pg_logical_emit_message(true, 'backtrack', 'backtrack-restore:42');
        INSERT INTO accounts VALUES (1, 'acme', 'restored');`);
      await source.exec(`INSERT INTO accounts VALUES (2, 'acme', 'ordinary')`);
      const events = await waitForLog(
        kafka.port,
        kafka.topicPrefix,
        (e) => e.length === 2,
        'two inserts',
      );
      expect(events.map((e) => [textOf(e.event, 'after', 'name'), e.event.origin])).toEqual([
        ['restored', 'backtrack-restore:42'],
        ['ordinary', null],
      ]);
    } finally {
      await capture.stop();
    }
  });

  test('each tenant keeps one partition, in commit order', async ({ source, kafka, log }) => {
    await source.exec(SCHEMA_SQL);
    await setupSource(source);
    const capture = await captureInProcess(source, kafka, log);
    try {
      const tenants = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
      for (let i = 0; i < 40; i++) {
        await source.exec(`INSERT INTO accounts VALUES ($1, $2, 'n')`, [
          i,
          tenants[i % tenants.length],
        ]);
      }
      const events = await waitForLog(
        kafka.port,
        kafka.topicPrefix,
        (e) => e.length === 40,
        '40 inserts',
      );
      for (const tenant of tenants) {
        const mine = events.filter((e) => e.key === tenant);
        expect(mine).toHaveLength(8);
        expect(new Set(mine.map((e) => e.partition)).size).toBe(1);
        const lsns = mine.sort((a, b) => Number(a.offset - b.offset)).map((e) => e.event.commitLsn);
        expect(lsns).toEqual([...lsns].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        expect(mine.every((e) => e.event.tenant === tenant)).toBe(true);
      }
    } finally {
      await capture.stop();
    }
  });
});
