/**
 * Postgres through our replication port: a publication and a slot on a test table, an
 * insert and an update read back as pgoutput messages whose values are the exact Postgres
 * text of each column.
 */
import {
  openReplicationStream,
  type PgoutputMessage,
  quoteIdent,
} from '../../../shared/pg/index.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait-for.js';

const COLUMNS = ['id', 'happened_at', 'amount', 'doc', 'blob'] as const;

describe('postgres smoke', () => {
  test('an insert and an update come back through pgoutput as exact Postgres text', async ({
    source,
    log,
  }) => {
    const table = `${quoteIdent(source.schema)}.readings`;
    await source.pool.query(`
      CREATE TABLE ${table} (
        id bigint PRIMARY KEY,
        happened_at timestamptz NOT NULL,
        amount numeric(40, 10) NOT NULL,
        doc jsonb NOT NULL,
        blob bytea NOT NULL
      )`);
    await source.pool.query(`ALTER TABLE ${table} REPLICA IDENTITY FULL`);
    await source.pool.query(
      `CREATE PUBLICATION ${quoteIdent(source.publication)} FOR TABLE ${table}`,
    );
    await source.pool.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [
      source.slot,
    ]);

    await source.pool.query(
      `INSERT INTO ${table} VALUES (1, '2026-11-20 10:15:00.123456+00', 12345678901234567890.1234567891, '{"b": [1, 2.50, "x"], "a": null}', '\\x00ff10')`,
    );
    await source.pool.query(
      `UPDATE ${table} SET amount = -0.0000000001, doc = '{"k": "v\\"q"}' WHERE id = 1`,
    );
    const expected = await source.pool.query(
      `SELECT ${COLUMNS.map((c) => `${c}::text`).join(', ')} FROM ${table} WHERE id = 1`,
    );

    const received: PgoutputMessage[] = [];
    const stream = await openReplicationStream(
      { url: source.url, slot: source.slot, publication: source.publication, log },
      {
        onMessage: ({ message }) => {
          received.push(message);
          return Promise.resolve();
        },
      },
    );
    try {
      await waitFor(() => received.filter((m) => m.tag === 'commit').length === 2, {
        what: 'two commits from the slot',
      });
    } finally {
      await stream.stop();
    }

    expect(received.map((m) => m.tag)).toEqual([
      'begin',
      'relation',
      'insert',
      'commit',
      'begin',
      'update',
      'commit',
    ]);
    const relation = received.find((m) => m.tag === 'relation');
    expect(relation?.tag === 'relation' && relation.columns.map((c) => c.name)).toEqual([
      ...COLUMNS,
    ]);

    const insert = received.find((m) => m.tag === 'insert');
    const update = received.find((m) => m.tag === 'update');
    if (insert?.tag !== 'insert' || update?.tag !== 'update')
      throw new Error('missing insert or update');
    const texts = (tuple: readonly { kind: string; text?: string }[]) => tuple.map((v) => v.text);
    expect(texts(insert.newTuple)).toEqual([
      '1',
      '2026-11-20 10:15:00.123456+00',
      '12345678901234567890.1234567891',
      '{"a": null, "b": [1, 2.50, "x"]}',
      '\\x00ff10',
    ]);
    const row = expected.rows[0] ?? {};
    expect(texts(update.newTuple)).toEqual(COLUMNS.map((c) => row[c]));
    expect(update.oldKind).toBe('old');
    expect(texts(update.oldTuple ?? [])).toEqual(texts(insert.newTuple));
  });
});
