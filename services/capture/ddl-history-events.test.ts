import { describe, expect, it } from 'vitest';

import {
  type ChangeEvent,
  type EventColumn,
  relationVersionOf,
  TENANT_ALL,
  TENANT_GLOBAL,
} from '../../shared/events/index.js';
import { lsnFromBigInt } from '../../shared/lsn.js';
import {
  DDL_HISTORY_COLUMNS,
  DDL_HISTORY_SCHEMA,
  DDL_HISTORY_TABLE,
  type DdlChange,
  ddlHistoryRow,
  isDdlEvent,
  parseDdlEvent,
} from '../../shared/source/ddl-history.js';

import { ddlHistoryEvents } from './to-change-events.js';

const columns: EventColumn[] = DDL_HISTORY_COLUMNS.map((name) => ({
  name,
  typeOid: 25,
  typeName: 'text',
  typeMod: -1,
  primaryKey: name === 'id',
}));

const change: DdlChange = {
  command: 'ALTER TABLE',
  relid: 16404,
  schema: 'app',
  table: 'accounts',
  previous: null,
  dropped: false,
  publications: ['backtrack', 'other'],
  columns: [
    {
      attnum: 1,
      name: 'id',
      type: 'integer',
      typeOid: 23,
      typeMod: -1,
      notNull: true,
      primaryKey: true,
      missing: null,
      previous: 'id',
    },
    {
      attnum: 3,
      name: 'title',
      type: 'text',
      typeOid: 25,
      typeMod: -1,
      notNull: false,
      primaryKey: false,
      missing: null,
      previous: 'name',
    },
  ],
  statement: 'ALTER TABLE app.accounts RENAME COLUMN name TO title',
};

function historyEvent(op: ChangeEvent['op'], of: DdlChange = change): ChangeEvent {
  const values = ddlHistoryRow(of, 7, '2026-12-07 10:00:00+00');
  const image = values.map((v) =>
    v === null ? { kind: 'null' as const } : { kind: 'text' as const, text: v },
  );
  return {
    tenant: TENANT_GLOBAL,
    schema: DDL_HISTORY_SCHEMA,
    table: DDL_HISTORY_TABLE,
    op,
    relation: {
      oid: 99,
      version: relationVersionOf(DDL_HISTORY_SCHEMA, DDL_HISTORY_TABLE, columns),
      columns,
    },
    before: op === 'insert' ? null : image,
    after: op === 'delete' ? null : image,
    truncate: null,
    xid: 9,
    commitLsn: lsnFromBigInt(0x100n),
    eventLsn: lsnFromBigInt(0x100n),
    commitTimeUs: 1n,
    sequence: 0,
    origin: null,
    claim: null,
  };
}

describe('schema history events', () => {
  it('go to _all for a capture of a publication they name, and parse back to the DDL', () => {
    const [event] = ddlHistoryEvents([historyEvent('insert')], 'backtrack');
    expect(event?.tenant).toBe(TENANT_ALL);
    expect(event && isDdlEvent(event)).toBe(true);
    expect(event && parseDdlEvent(event)).toEqual(change);
  });

  it('are left out for other publications, and the history upkeep (deletes) too', () => {
    expect(ddlHistoryEvents([historyEvent('insert')], 'third')).toEqual([]);
    expect(ddlHistoryEvents([historyEvent('delete')], 'backtrack')).toEqual([]);
  });

  it('carry a drop without columns and a rename with the previous name', () => {
    const dropped = { ...change, dropped: true, columns: [] };
    const [drop] = ddlHistoryEvents([historyEvent('insert', dropped)], 'other');
    expect(drop && parseDdlEvent(drop)).toEqual(dropped);
    const renamed = { ...change, previous: { schema: 'app', table: 'clients' } };
    const [rename] = ddlHistoryEvents([historyEvent('insert', renamed)], 'other');
    expect(rename && parseDdlEvent(rename).previous).toEqual({ schema: 'app', table: 'clients' });
  });

  it('refuse a record this version cannot read, naming its position', () => {
    const event = historyEvent('insert');
    const index = DDL_HISTORY_COLUMNS.indexOf('columns');
    const broken = {
      ...event,
      tenant: TENANT_ALL,
      after:
        event.after?.map((v, i) => (i === index ? { kind: 'text' as const, text: '{}' } : v)) ??
        null,
    };
    expect(() => parseDdlEvent(broken)).toThrow(/0\/100:0: columns is not what/);
  });
});
