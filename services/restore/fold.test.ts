import { describe, expect, it } from 'vitest';

import {
  type ChangeEvent,
  type ColumnValue,
  type EventColumn,
  relationVersionOf,
  TENANT_ALL,
} from '../../shared/events/index.js';
import { lsnFromBigInt } from '../../shared/lsn.js';

import { Fold, type FoldOptions, type TableShape } from './fold.js';

const ID: EventColumn = {
  name: 'id',
  typeOid: 23,
  typeName: 'integer',
  typeMod: -1,
  primaryKey: true,
};
const TENANT: EventColumn = {
  name: 'tenant_id',
  typeOid: 25,
  typeName: 'text',
  typeMod: -1,
  primaryKey: false,
};
const BODY: EventColumn = {
  name: 'body',
  typeOid: 25,
  typeName: 'text',
  typeMod: -1,
  primaryKey: false,
};
const PLAN: EventColumn = {
  name: 'plan',
  typeOid: 25,
  typeName: 'text',
  typeMod: -1,
  primaryKey: false,
};
const BASE = [ID, TENANT, BODY];

const t = (text: string): ColumnValue => ({ kind: 'text', text });
const NULL: ColumnValue = { kind: 'null' };
const TOAST: ColumnValue = { kind: 'unchanged-toast' };

let nextLsn = 0x1000n;
/** An event; each call gets a later commit position unless `at` is given. */
function ev(
  op: ChangeEvent['op'],
  images: { before?: ColumnValue[]; after?: ColumnValue[] },
  more: Partial<ChangeEvent> & { columns?: EventColumn[]; at?: bigint; time?: bigint } = {},
): ChangeEvent {
  const columns = more.columns ?? BASE;
  const at = more.at ?? (nextLsn += 0x100n);
  return {
    tenant: 'acme',
    schema: 'app',
    table: 'docs',
    op,
    relation: { oid: 1, version: relationVersionOf('app', 'docs', columns), columns },
    before: images.before ?? null,
    after: images.after ?? null,
    truncate: op === 'truncate' ? { cascade: false, restartIdentity: false } : null,
    xid: 100,
    commitLsn: lsnFromBigInt(at),
    eventLsn: lsnFromBigInt(at),
    commitTimeUs: more.time ?? at,
    sequence: 0,
    origin: null,
    claim: null,
    ...more,
  };
}

const SHAPE: TableShape = {
  schema: 'app',
  table: 'docs',
  columns: BASE.map((c) => ({
    name: c.name,
    typeName: c.typeName,
    primaryKey: c.primaryKey,
    missing: null,
  })),
};

function fold(options: Partial<FoldOptions> = {}, snapshot: (string | null)[][] = []): Fold {
  const f = new Fold({ tenant: 'acme', visibleInSnapshot: () => false, target: {}, ...options });
  f.addTable(SHAPE);
  for (const row of snapshot) f.addSnapshotRow('app', 'docs', row);
  return f;
}

const rows = (f: Fold, table = 'app.docs') =>
  [...f.rows(table)].sort((a, b) => String(a[0]).localeCompare(String(b[0])));

describe('Fold', () => {
  it('gives the snapshot rows when no event follows', () => {
    const f = fold({}, [
      ['1', 'acme', 'a'],
      ['2', 'acme', null],
    ]);
    expect(rows(f)).toEqual([
      ['1', 'acme', 'a'],
      ['2', 'acme', null],
    ]);
  });

  it('applies inserts, updates and deletes after the snapshot', () => {
    const f = fold({}, [['1', 'acme', 'a']]);
    expect(f.apply(ev('insert', { after: [t('2'), t('acme'), t('b')] }))).toBe('applied');
    f.apply(
      ev('update', { before: [t('1'), t('acme'), t('a')], after: [t('1'), t('acme'), t('a2')] }),
    );
    f.apply(ev('delete', { before: [t('2'), t('acme'), t('b')] }));
    expect(rows(f)).toEqual([['1', 'acme', 'a2']]);
    expect(f.activity('app.docs')).toEqual({
      inserts: 1,
      updates: 1,
      deletes: 1,
      truncates: 0,
      anomalies: 0,
    });
  });

  it('skips events of transactions the snapshot already saw', () => {
    const f = fold({ visibleInSnapshot: (xid) => xid === 7 }, [['1', 'acme', 'seen']]);
    expect(
      f.apply(
        ev(
          'update',
          { before: [t('1'), t('acme'), t('old')], after: [t('1'), t('acme'), t('seen')] },
          { xid: 7 },
        ),
      ),
    ).toBe('visible-in-snapshot');
    expect(f.apply(ev('insert', { after: [t('1'), t('acme'), t('seen')] }, { xid: 7 }))).toBe(
      'visible-in-snapshot',
    );
    expect(rows(f)).toEqual([['1', 'acme', 'seen']]);
  });

  it('keeps the prior value of an unchanged-TOAST column', () => {
    const big = 'x'.repeat(100_000);
    const f = fold({}, [['1', 'acme', big]]);
    f.apply(
      ev('update', { before: [t('1'), t('acme'), t(big)], after: [t('1'), t('acme'), TOAST] }),
    );
    expect(rows(f)).toEqual([['1', 'acme', big]]);
  });

  it('takes an unchanged-TOAST value from the old image when the row was not known', () => {
    const f = fold();
    f.apply(
      ev('update', { before: [t('1'), t('acme'), t('kept')], after: [t('1'), t('acme'), TOAST] }),
    );
    expect(rows(f)).toEqual([['1', 'acme', 'kept']]);
    expect(f.activity('app.docs').anomalies).toBe(1);
  });

  it('moves a row whose key is updated', () => {
    const f = fold({}, [['1', 'acme', 'a']]);
    f.apply(
      ev('update', { before: [t('1'), t('acme'), t('a')], after: [t('9'), t('acme'), TOAST] }),
    );
    expect(rows(f)).toEqual([['9', 'acme', 'a']]);
  });

  it('counts a delete of an unknown row as an anomaly', () => {
    const f = fold();
    f.apply(ev('delete', { before: [t('5'), t('acme'), NULL] }));
    expect(f.activity('app.docs').anomalies).toBe(1);
  });

  it('empties the table on TRUNCATE, whether of the tenant stream or of _all', () => {
    const f = fold({}, [['1', 'acme', 'a']]);
    f.apply(ev('truncate', {}, { tenant: TENANT_ALL }));
    f.apply(ev('insert', { after: [t('2'), t('acme'), t('b')] }));
    expect(rows(f)).toEqual([['2', 'acme', 'b']]);
    f.apply(ev('truncate', {}));
    expect(rows(f)).toEqual([]);
  });

  it('stops at the target commit time and at the target LSN', () => {
    const byTime = fold({ target: { commitTimeUs: 5_000n } });
    expect(
      byTime.apply(ev('insert', { after: [t('1'), t('acme'), t('in')] }, { time: 5_000n })),
    ).toBe('applied');
    expect(
      byTime.apply(ev('insert', { after: [t('2'), t('acme'), t('out')] }, { time: 5_001n })),
    ).toBe('after-target');
    expect(rows(byTime)).toEqual([['1', 'acme', 'in']]);

    const byLsn = fold({ target: { commitLsn: lsnFromBigInt(0x9_0000n) } });
    expect(
      byLsn.apply(ev('insert', { after: [t('1'), t('acme'), t('in')] }, { at: 0x9_0000n })),
    ).toBe('applied');
    expect(
      byLsn.apply(ev('insert', { after: [t('2'), t('acme'), t('out')] }, { at: 0x9_0001n })),
    ).toBe('after-target');
  });

  it('skips a repeated position and refuses events out of order', () => {
    const f = fold();
    const first = ev(
      'insert',
      { after: [t('1'), t('acme'), t('a')] },
      { at: 0x10_0000n, sequence: 3 },
    );
    expect(f.apply(first)).toBe('applied');
    expect(f.apply({ ...first })).toBe('duplicate');
    expect(() =>
      f.apply(
        ev('insert', { after: [t('2'), t('acme'), t('b')] }, { at: 0x10_0000n, sequence: 2 }),
      ),
    ).toThrow(/out of order/);
  });

  it('ignores other tenants', () => {
    const f = fold();
    expect(
      f.apply(ev('insert', { after: [t('1'), t('globex'), t('a')] }, { tenant: 'globex' })),
    ).toBe('other-tenant');
    expect(rows(f)).toEqual([]);
  });

  it('reads rows out in the column set as of the target: added columns, dropped columns', () => {
    const f = fold({}, [['1', 'acme', 'old row']]);
    const withPlan = [ID, TENANT, BODY, PLAN];
    f.apply(
      ev('insert', { after: [t('2'), t('acme'), t('new row'), t('pro')] }, { columns: withPlan }),
    );
    expect(f.shape('app.docs').columns.map((c) => c.name)).toEqual([
      'id',
      'tenant_id',
      'body',
      'plan',
    ]);
    expect(rows(f)).toEqual([
      ['1', 'acme', 'old row', null],
      ['2', 'acme', 'new row', 'pro'],
    ]);
    const withoutBody = [ID, TENANT, PLAN];
    f.apply(
      ev(
        'update',
        { before: [t('2'), t('acme'), t('pro')], after: [t('2'), t('acme'), t('team')] },
        { columns: withoutBody },
      ),
    );
    expect(rows(f)).toEqual([
      ['1', 'acme', null],
      ['2', 'acme', 'team'],
    ]);
  });

  it('gives rows that predate an added column its missing value (a constant DEFAULT)', () => {
    const f = fold({}, [['1', 'acme', 'old row']]);
    const withPlan = [ID, TENANT, BODY, { ...PLAN, missing: 'free' }];
    f.apply(
      ev('insert', { after: [t('2'), t('acme'), t('new row'), t('pro')] }, { columns: withPlan }),
    );
    expect(rows(f)).toEqual([
      ['1', 'acme', 'old row', 'free'],
      ['2', 'acme', 'new row', 'pro'],
    ]);
  });

  it('takes a column set from a schema event of _all, with no write of the tenant since', () => {
    const f = fold({}, [['1', 'acme', 'old row']]);
    // Another tenant's write after ADD COLUMN … DEFAULT 'free' and DROP COLUMN body.
    const after = [ID, TENANT, { ...PLAN, missing: 'free' }];
    expect(f.apply(ev('schema', {}, { tenant: TENANT_ALL, columns: after }))).toBe('applied');
    expect(f.shape('app.docs').columns.map((c) => c.name)).toEqual(['id', 'tenant_id', 'plan']);
    expect(rows(f)).toEqual([['1', 'acme', 'free']]);
    // It changes no row and counts as no insert, update, delete or truncate.
    expect(f.activity('app.docs')).toEqual({
      inserts: 0,
      updates: 0,
      deletes: 0,
      truncates: 0,
      anomalies: 0,
    });
  });

  it('does not take a schema event after the target', () => {
    const f = fold({ target: { commitTimeUs: 0x10n } }, [['1', 'acme', 'old row']]);
    const after = [ID, TENANT, BODY, { ...PLAN, missing: 'free' }];
    expect(f.apply(ev('schema', {}, { tenant: TENANT_ALL, columns: after }))).toBe('after-target');
    expect(rows(f)).toEqual([['1', 'acme', 'old row']]);
  });

  it('creates a table met only in events (created after the snapshot)', () => {
    const f = fold();
    f.apply(ev('insert', { after: [t('1'), t('acme'), t('n')] }, { table: 'notes' }));
    expect(f.tableNames().sort()).toEqual(['app.docs', 'app.notes']);
    expect(rows(f, 'app.notes')).toEqual([['1', 'acme', 'n']]);
  });

  it('keys rows by a composite primary key', () => {
    const columns = [{ ...ID }, { ...TENANT, primaryKey: true }, BODY];
    const f = new Fold({ tenant: 'acme', visibleInSnapshot: () => false, target: {} });
    f.apply(ev('insert', { after: [t('1'), t('acme'), t('a')] }, { columns }));
    f.apply(ev('insert', { after: [t('1'), t('acme2'), t('b')] }, { columns, tenant: 'acme' }));
    f.apply(ev('delete', { before: [t('1'), t('acme'), t('a')] }, { columns }));
    expect(rows(f)).toEqual([['1', 'acme2', 'b']]);
  });

  it('refuses events whose row images are still in object storage', () => {
    const f = fold();
    expect(() =>
      f.apply(ev('insert', {}, { claim: { key: 'claims/s/1-0.avro', sha256: 'ab', size: 10 } })),
    ).toThrow(/resolve claim checks/);
  });

  it('reports the span of time it replayed', () => {
    const f = fold();
    f.apply(ev('insert', { after: [t('1'), t('acme'), t('a')] }, { time: 1_000n }));
    f.apply(ev('insert', { after: [t('2'), t('acme'), t('b')] }, { time: 2_000n }));
    expect(f.replayed()).toEqual({ events: 2, fromUs: 1_000n, toUs: 2_000n });
  });
});
