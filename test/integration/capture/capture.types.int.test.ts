/**
 * Every value read back from Kafka equals the server's text of it, byte for byte, for the
 * types a multi-tenant schema uses (and the awkward values of each). The reference is the
 * type's output function (`format('%s', col)`, what COPY and pgoutput use), which equals
 * `col::text` for every type but two with dedicated casts: bool's cast spells `true` where
 * its output is `t`, and inet's cast adds the netmask (`127.0.0.1/32`) its output omits.
 */
import { quoteIdent } from '../../../shared/pg/index.js';
import { captureInProcess, setupSource, waitForLog } from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';

const COLUMNS = [
  ['small', 'int2'],
  ['regular', 'int4'],
  ['big', 'int8'],
  ['exact', 'numeric(40,20)'],
  ['single', 'real'],
  ['dbl', 'double precision'],
  ['words', 'text'],
  ['raw', 'bytea'],
  ['flag', 'bool'],
  ['day', 'date'],
  ['local_time', 'timestamp'],
  ['instant', 'timestamptz'],
  ['span', 'interval'],
  ['ident', 'uuid'],
  ['doc_json', 'json'],
  ['doc_jsonb', 'jsonb'],
  ['tags', 'text[]'],
  ['grid', 'int[][]'],
  ['feeling', 'mood'],
  ['amount', 'positive_amount'],
  ['window', 'tstzrange'],
  ['host', 'inet'],
  ['network', 'cidr'],
] as const;

/** Rows of SQL literals, one per column of COLUMNS (after id and tenant_id). */
const ROWS: readonly (readonly string[])[] = [
  [
    '-32768',
    '2147483647',
    '-9223372036854775808',
    `'12345678901234567890.12345678901234567890'`,
    `'NaN'`,
    `'Infinity'`,
    `E'unicode é 漢字 🦆, tab\\there, newline\\nthere, backslash \\\\ and ''quote'' and "double"'`,
    `'\\x00ff7f80'`,
    'true',
    `'2026-02-28'`,
    `'2026-11-20 10:15:00.123456'`,
    `'2026-11-20 10:15:00.123456+00'`,
    `'1 year 2 mons 3 days 04:05:06.789'`,
    `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'`,
    `'{"b": 1,  "a": [1, 2.50, null]}'`,
    `'{"b": 1, "a": [1, 2.50, null], "s": "x\\"y"}'`,
    `ARRAY['a b', NULL, 'c,d', '"q"', '']`,
    `'{{1,NULL},{3,4}}'`,
    `'happy'`,
    '42.5',
    `'[2026-01-01 00:00:00+00,2026-02-01 00:00:00+00)'`,
    `'2001:db8::1/64'`,
    `'10.0.0.0/8'`,
  ],
  [
    '32767',
    '-2147483648',
    '9223372036854775807',
    `'-0.00000000000000000001'`,
    `'-Infinity'`,
    `'NaN'`,
    `''`,
    `'\\x'`,
    'false',
    `'infinity'`,
    `'-infinity'`,
    `'1999-12-31 23:59:59.999999-08'`,
    `'-1 days -00:00:00.000001'`,
    `'00000000-0000-0000-0000-000000000000'`,
    `'[]'`,
    `'"just a string"'`,
    `'{}'`,
    `'{{NULL,NULL}}'`,
    `'sad'`,
    '0.01',
    `'empty'`,
    `'127.0.0.1'`,
    `'::/0'`,
  ],
  ROWS_OF_NULLS(),
];

function ROWS_OF_NULLS(): string[] {
  return COLUMNS.map(() => 'NULL');
}

describe('capture: values', () => {
  test('every type arrives as its exact Postgres text', async ({ source, kafka, log }) => {
    const schema = quoteIdent(source.schema);
    await source.exec(`
      CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
      CREATE DOMAIN positive_amount AS numeric(12, 2) CHECK (VALUE > 0);
      CREATE TABLE kinds (
        id int PRIMARY KEY,
        tenant_id text NOT NULL,
        ${COLUMNS.map(([name, type]) => `${quoteIdent(name)} ${type}`).join(',\n        ')}
      );`);
    await setupSource(source);
    const capture = await captureInProcess(source, kafka, log);
    try {
      for (const [i, row] of ROWS.entries()) {
        await source.exec(`INSERT INTO kinds VALUES (${i + 1}, 'tenant-${i}', ${row.join(', ')})`);
      }
      const expected = await source.pool.query(
        `SELECT id::text, ${COLUMNS.map(([name]) => `CASE WHEN ${quoteIdent(name)} IS NULL THEN NULL ELSE format('%s', ${quoteIdent(name)}) END AS ${quoteIdent(name)}`).join(', ')}
           FROM ${schema}.kinds ORDER BY id`,
      );
      const casts = await source.pool.query(
        `SELECT ${COLUMNS.map(([name]) => `bool_and(${quoteIdent(name)}::text = format('%s', ${quoteIdent(name)})) AS ${quoteIdent(name)}`).join(', ')}
           FROM ${schema}.kinds`,
      );
      expect(
        Object.entries(casts.rows[0] ?? {})
          .filter(([, same]) => same !== true)
          .map(([name]) => name),
      ).toEqual(['flag', 'host']);

      const events = await waitForLog(
        kafka.port,
        kafka.topicPrefix,
        (e) => e.length === ROWS.length,
        'the inserts',
      );
      const byId = new Map(
        events.map(({ event }) => [
          event.after?.[0]?.kind === 'text' ? event.after[0].text : '',
          event,
        ]),
      );
      for (const row of expected.rows) {
        const event = byId.get(String(row.id));
        expect(event, `row ${String(row.id)}`).toBeDefined();
        const columns = event?.relation.columns.map((c) => c.name) ?? [];
        for (const [name] of COLUMNS) {
          const value = event?.after?.[columns.indexOf(name)];
          const want = row[name];
          if (want === null) {
            expect(value, `${name} of row ${String(row.id)}`).toEqual({ kind: 'null' });
          } else {
            expect(value, `${name} of row ${String(row.id)}`).toEqual({ kind: 'text', text: want });
          }
        }
      }

      const types = Object.fromEntries(
        (events[0]?.event.relation.columns ?? []).map((c) => [c.name, c.typeName]),
      );
      expect(types).toMatchObject({
        id: 'integer',
        exact: 'numeric(40,20)',
        feeling: `${source.schema}.mood`,
        amount: `${source.schema}.positive_amount`,
        tags: 'text[]',
        grid: 'integer[]',
        window: 'tstzrange',
      });
      expect(
        events[0]?.event.relation.columns.filter((c) => c.primaryKey).map((c) => c.name),
      ).toEqual(['id']);
    } finally {
      await capture.stop();
    }
  });
});
