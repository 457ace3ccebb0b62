import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  type ChangeEvent,
  type ColumnValue,
  type EventColumn,
  relationVersionOf,
  TENANT_ALL,
} from '../../shared/events/index.js';
import { lsnFromBigInt } from '../../shared/lsn.js';
import { formatCopyRow } from '../../shared/pg/copy-text.js';
import {
  DDL_HISTORY_COLUMNS,
  DDL_HISTORY_SCHEMA,
  DDL_HISTORY_TABLE,
  type DdlChange,
  ddlHistoryRow,
} from '../../shared/source/ddl-history.js';

import { BoundedFold, FANOUT, type FoldedRows } from './bounded-fold.js';
import { Fold, type FoldOptions, rowKey, type TableShape } from './fold.js';

const spillRoot = mkdtempSync(join(tmpdir(), 'bounded-fold-test-'));
afterAll(() => rmSync(spillRoot, { recursive: true, force: true }));

function column(name: string, primaryKey: boolean, missing?: string): EventColumn {
  return { name, typeOid: 25, typeName: 'text', typeMod: -1, primaryKey, missing };
}

const DOCS_V1 = [column('id', true), column('tenant_id', false), column('body', false)];
const LINES = [column('doc_id', true), column('n', true), column('qty', false)];
const TAGS = [column('id', true), column('tenant_id', false), column('label', false)];
const HISTORY_COLUMNS = DDL_HISTORY_COLUMNS.map((name) => column(name, name === 'id'));

/** mulberry32: the same seed gives the same stream. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Row = Map<string, string | null>;

interface Workload {
  readonly shapes: TableShape[];
  readonly snapshot: { table: string; values: (string | null)[] }[];
  readonly events: ChangeEvent[];
  readonly visible: Set<number>;
  readonly targetLsn: bigint;
  /** The true rows at the target, per table, as COPY lines in the table's final columns. */
  readonly truth: Record<string, string[]>;
}

/**
 * A consistent random history of two tables: a model of the rows gives every event its
 * true old image (replica identity FULL). Events before the snapshot are in the stream
 * too (visible in it), some are repeated, some belong to another tenant, some come after
 * the target; docs gains a column with a missing value near the end (so some partitions
 * only ever see the old shape). DDL of the schema history runs through it: a column
 * renamed before the snapshot (visible in it) and after, a table created, renamed and
 * another dropped.
 */
function workload(seed: number, size: number): Workload {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const text = (): string => {
    const r = next();
    if (r < 0.1) return 'x'.repeat(300 + Math.floor(next() * 300)) + String(next());
    if (r < 0.2) return `tab\there\nline\\back ü ${next()}`;
    return `v${Math.floor(next() * 1e6)}`;
  };
  const tables: Record<string, { columns: EventColumn[]; rows: Map<string, Row> }> = {
    'app.docs': { columns: DOCS_V1, rows: new Map() },
    'app.lines': { columns: LINES, rows: new Map() },
  };
  const events: ChangeEvent[] = [];
  const visible = new Set<number>();
  let lsn = 0x10000n;
  let xid = 1000;
  let ddlId = 0;
  /** A DDL in a transaction of its own, as the event triggers record it. */
  const ddl = (
    name: string,
    change: Pick<DdlChange, 'command' | 'dropped' | 'previous'>,
    renamed: ReadonlyMap<string, string> = new Map(),
    added: ReadonlySet<string> = new Set(),
  ): void => {
    const [schema = '', table = ''] = name.split('.');
    const columns = tables[name]?.columns ?? [];
    const reverse = new Map([...renamed].map(([from, to]) => [to, from]));
    const full: DdlChange = {
      ...change,
      relid: name.length,
      schema,
      table,
      publications: ['pub'],
      statement: change.command,
      columns: change.dropped
        ? []
        : columns.map((c, i) => ({
            attnum: i + 1,
            name: c.name,
            type: c.typeName,
            typeOid: c.typeOid,
            typeMod: c.typeMod,
            notNull: c.primaryKey,
            primaryKey: c.primaryKey,
            missing: c.missing ?? null,
            previous: added.has(c.name) ? null : (reverse.get(c.name) ?? c.name),
          })),
    };
    xid += 1;
    lsn += 0x100n;
    const values = ddlHistoryRow(full, ++ddlId, '2026-12-07 10:00:00+00');
    events.push({
      tenant: TENANT_ALL,
      schema: DDL_HISTORY_SCHEMA,
      table: DDL_HISTORY_TABLE,
      op: 'insert',
      relation: {
        oid: 99,
        version: relationVersionOf(DDL_HISTORY_SCHEMA, DDL_HISTORY_TABLE, HISTORY_COLUMNS),
        columns: HISTORY_COLUMNS,
      },
      before: null,
      after: values.map((v) => (v === null ? { kind: 'null' } : { kind: 'text', text: v })),
      truncate: null,
      xid,
      commitLsn: lsnFromBigInt(lsn),
      eventLsn: lsnFromBigInt(lsn),
      commitTimeUs: lsn,
      sequence: 0,
      origin: null,
      claim: null,
    });
  };
  const renameColumn = (name: string, from: string, to: string): void => {
    const t = tables[name];
    if (!t) return;
    t.columns = t.columns.map((c) => (c.name === from ? { ...c, name: to } : c));
    for (const row of t.rows.values()) {
      row.set(to, row.get(from) ?? null);
      row.delete(from);
    }
    ddl(name, { command: 'ALTER TABLE', dropped: false, previous: null }, new Map([[from, to]]));
  };
  let nextId = 1;
  let snapshot: Workload['snapshot'] | undefined;
  let shapesAtSnapshot: TableShape[] = [];
  const shapeOf = (name: string): TableShape => {
    const [schema = '', table = ''] = name.split('.');
    return {
      schema,
      table,
      columns: (tables[name]?.columns ?? []).map((c) => ({
        name: c.name,
        typeName: c.typeName,
        primaryKey: c.primaryKey,
        missing: c.missing ?? null,
      })),
    };
  };
  const image = (columns: EventColumn[], row: Row): ColumnValue[] =>
    columns.map((c) => {
      const value = row.get(c.name);
      return value === null || value === undefined
        ? { kind: 'null' }
        : { kind: 'text', text: value };
    });
  const key = (columns: EventColumn[], row: Row): string =>
    rowKey(
      columns.map((c) => c.primaryKey),
      columns.map((c) => row.get(c.name) ?? null),
      'test',
    );
  const emit = (
    name: string,
    op: ChangeEvent['op'],
    before: ColumnValue[] | null,
    after: ColumnValue[] | null,
    sequence: number,
    tenant = 'acme',
  ): void => {
    const [schema = '', table = ''] = name.split('.');
    const columns = tables[name]?.columns ?? [];
    events.push({
      tenant,
      schema,
      table,
      op,
      relation: { oid: name.length, version: relationVersionOf(schema, table, columns), columns },
      before,
      after,
      truncate: op === 'truncate' ? { cascade: false, restartIdentity: false } : null,
      xid,
      commitLsn: lsnFromBigInt(lsn),
      eventLsn: lsnFromBigInt(lsn + BigInt(sequence)),
      commitTimeUs: lsn,
      sequence,
      origin: null,
      claim: null,
    });
  };

  for (let step = 0; step < size; step++) {
    if (step === Math.floor(size / 10)) renameColumn('app.docs', 'body', 'text');
    if (step === Math.floor(size / 2)) {
      tables['app.tags'] = { columns: TAGS, rows: new Map() };
      ddl(
        'app.tags',
        { command: 'ALTER PUBLICATION', dropped: false, previous: null },
        new Map(),
        new Set(TAGS.map((c) => c.name)),
      );
    }
    if (step === Math.floor(size * 0.6)) renameColumn('app.docs', 'text', 'content');
    if (step === Math.floor(size * 0.7)) {
      const lines = tables['app.lines'];
      if (lines) {
        delete tables['app.lines'];
        tables['app.items'] = lines;
        ddl('app.items', {
          command: 'ALTER TABLE',
          dropped: false,
          previous: { schema: 'app', table: 'lines' },
        });
      }
    }
    if (step === Math.floor(size * 0.85)) {
      ddl('app.tags', { command: 'DROP TABLE', dropped: true, previous: null });
      delete tables['app.tags'];
    }
    if (step === Math.floor(size / 4)) {
      // The snapshot: what the model holds now; the events so far are visible in it.
      snapshot = [];
      for (const [name, t] of Object.entries(tables)) {
        for (const row of t.rows.values()) {
          snapshot.push({ table: name, values: t.columns.map((c) => row.get(c.name) ?? null) });
        }
      }
      shapesAtSnapshot = Object.keys(tables).map(shapeOf);
      for (let x = 0; x <= xid; x++) visible.add(x);
    }
    if (step === Math.floor(size * 0.95)) {
      const docs = tables['app.docs'];
      if (docs) {
        docs.columns = [...docs.columns, column('plan', false, 'free')];
        for (const row of docs.rows.values()) row.set('plan', 'free');
        // The new column set reaches every tenant through _all (a schema event).
        xid += 1;
        lsn += 0x100n;
        emit('app.docs', 'schema', null, null, 0, TENANT_ALL);
      }
    }
    xid += 1;
    lsn += 0x100n;
    const changes = 1 + Math.floor(next() * 3);
    for (let sequence = 0; sequence < changes; sequence++) {
      const name = pick(Object.keys(tables));
      const t = tables[name];
      if (!t) continue;
      const rows = [...t.rows.values()];
      const r = next();
      if (r < 0.4 || rows.length < 3) {
        const row: Row = new Map();
        for (const c of t.columns) row.set(c.name, c.primaryKey ? String(nextId++) : text());
        if (row.has('tenant_id')) row.set('tenant_id', 'acme');
        t.rows.set(key(t.columns, row), row);
        emit(name, 'insert', null, image(t.columns, row), sequence);
      } else if (r < 0.8) {
        const row = pick(rows);
        const oldKey = key(t.columns, row);
        const before = image(t.columns, row);
        const moves = next() < 0.3;
        const updated: Row = new Map(row);
        for (const c of t.columns) {
          if (c.primaryKey) {
            if (moves && next() < 0.7) updated.set(c.name, String(nextId++));
          } else if (c.name !== 'tenant_id' && next() < 0.5) {
            updated.set(c.name, next() < 0.1 ? null : text());
          }
        }
        const after = t.columns.map((c): ColumnValue => {
          const value = updated.get(c.name) ?? null;
          // A large value that did not change is not resent.
          if (value !== null && value.length > 250 && value === row.get(c.name)) {
            return { kind: 'unchanged-toast' };
          }
          return value === null ? { kind: 'null' } : { kind: 'text', text: value };
        });
        t.rows.delete(oldKey);
        t.rows.set(key(t.columns, updated), updated);
        emit(name, 'update', before, after, sequence);
      } else if (r < 0.995) {
        const row = pick(rows);
        t.rows.delete(key(t.columns, row));
        emit(name, 'delete', image(t.columns, row), null, sequence);
      } else {
        t.rows.clear();
        emit(name, 'truncate', null, null, sequence, next() < 0.5 ? 'acme' : TENANT_ALL);
      }
      const last = events.at(-1);
      if (last && next() < 0.05) events.push(last); // read twice (segment and tail)
      if (next() < 0.05) emit(name, 'delete', null, null, sequence + 100, 'other');
    }
  }
  const targetLsn = lsn;
  const truth = Object.fromEntries(
    Object.entries(tables).map(([name, t]) => [
      name,
      [...t.rows.values()]
        .map((row) => formatCopyRow(t.columns.map((c) => row.get(c.name) ?? null)))
        .sort(),
    ]),
  );
  for (let step = 0; step < 20; step++) {
    lsn += 0x100n;
    xid += 1;
    emit('app.lines', 'truncate', null, null, 0);
  }
  return {
    shapes: shapesAtSnapshot,
    snapshot: snapshot ?? [],
    events,
    visible,
    targetLsn,
    truth,
  };
}

function options(w: Workload): FoldOptions {
  return {
    tenant: 'acme',
    visibleInSnapshot: (xid) => w.visible.has(xid),
    target: { commitLsn: lsnFromBigInt(w.targetLsn) },
  };
}

function run<F extends Fold | BoundedFold>(fold: F, w: Workload): F {
  for (const shape of w.shapes) fold.addTable(shape);
  for (const row of w.snapshot) {
    const [schema = '', table = ''] = row.table.split('.');
    fold.addSnapshotRow(schema, table, row.values);
  }
  for (const event of w.events) fold.apply(event);
  if (fold instanceof BoundedFold) fold.finish();
  return fold;
}

/** Everything a restore reads from a fold, in comparable form. */
function outcome(fold: Fold | FoldedRows) {
  return fold
    .tableNames()
    .sort()
    .map((table) => ({
      table,
      shape: fold.shape(table),
      rows: [...fold.rows(table)].map((row) => formatCopyRow(row)).sort(),
      count: fold.rowCount(table),
      activity: fold.activity(table),
    }));
}

describe('BoundedFold', () => {
  const seeds = [1, 7, 42, 2024, 31337];

  it.each(seeds)(
    'the in-memory fold reads the true rows through renames, a new and a dropped table (seed %i)',
    (seed) => {
      const w = workload(seed, 1500);
      const fold = run(new Fold(options(w)), w);
      expect(fold.tableNames().sort()).toEqual(Object.keys(w.truth).sort());
      for (const [table, rows] of Object.entries(w.truth)) {
        expect([...fold.rows(table)].map((row) => formatCopyRow(row)).sort()).toEqual(rows);
      }
      expect(fold.shape('app.docs').columns.map((c) => c.name)).toEqual([
        'id',
        'tenant_id',
        'content',
        'plan',
      ]);
    },
  );

  it.each(seeds)('equals the in-memory fold when it spills early (seed %i)', (seed) => {
    const w = workload(seed, 1500);
    const expected = run(new Fold(options(w)), w);
    const bounded = run(
      new BoundedFold({ ...options(w), memoryBytes: 20_000, tempDir: spillRoot }),
      w,
    );
    try {
      expect(bounded.spillStats().spilled).toBe(true);
      expect(outcome(bounded)).toEqual(outcome(expected));
      expect(bounded.replayed()).toEqual(expected.replayed());
      expect(outcome(expected).some((t) => t.activity.truncates > 0)).toBe(true);
    } finally {
      bounded.close();
    }
  });

  // Spills 1,500 rows through three levels of partitions on disk: 2-3 s on an idle core,
  // past vitest's default 5 s when the cores are shared, so it gets a bound of its own.
  it.each(seeds)(
    'equals it when partitions split again, twice (seed %i)',
    { timeout: 30_000 },
    (seed) => {
      const w = workload(seed, 1500);
      const expected = run(new Fold(options(w)), w);
      const bounded = run(
        new BoundedFold({ ...options(w), memoryBytes: 500, tempDir: spillRoot }),
        w,
      );
      try {
        expect(bounded.spillStats().partitions).toBeGreaterThan(FANOUT);
        expect(outcome(bounded)).toEqual(outcome(expected));
      } finally {
        bounded.close();
      }
    },
  );

  it('stays in memory under the budget, and writes nothing', () => {
    const w = workload(5, 300);
    const before = readdirSync(spillRoot).length;
    const bounded = run(
      new BoundedFold({ ...options(w), memoryBytes: 1 << 30, tempDir: spillRoot }),
      w,
    );
    expect(bounded.spillStats()).toEqual({ spilled: false, partitions: 1, bytesWritten: 0 });
    expect(bounded.partitionCount()).toBe(1);
    expect(outcome(bounded)).toEqual(outcome(run(new Fold(options(w)), w)));
    expect(readdirSync(spillRoot).length).toBe(before);
  });

  it('says which partition holds each row, and removes its files on close', () => {
    const w = workload(11, 800);
    const bounded = run(
      new BoundedFold({ ...options(w), memoryBytes: 4_000, tempDir: spillRoot }),
      w,
    );
    const folder = bounded.spillFolder();
    expect(folder && existsSync(folder)).toBe(true);
    for (const table of bounded.tableNames()) {
      const primaryKey = bounded.shape(table).columns.map((c) => c.primaryKey);
      let seen = 0;
      for (let p = 0; p < bounded.partitionCount(); p++) {
        for (const row of bounded.partitionRows(table, p)) {
          expect(bounded.partitionOf(table, rowKey(primaryKey, row, table))).toBe(p);
          seen += 1;
        }
      }
      expect(seen).toBe(bounded.rowCount(table));
    }
    bounded.close();
    expect(folder && existsSync(folder)).toBe(false);
  });

  it('removes the spill folders of killed restores before spilling, not those of live ones', () => {
    const dead = join(spillRoot, 'backtrack-restore-2147483646-abc123');
    const live = join(spillRoot, `backtrack-restore-${process.pid}-def456`);
    const foreign = join(spillRoot, 'backtrack-restore-notapid');
    for (const folder of [dead, live, foreign]) mkdirSync(folder);
    const w = workload(12, 400);
    const bounded = run(
      new BoundedFold({ ...options(w), memoryBytes: 4_000, tempDir: spillRoot }),
      w,
    );
    expect(bounded.spillFolder()).toMatch(new RegExp(`backtrack-restore-${process.pid}-`));
    expect([existsSync(dead), existsSync(live), existsSync(foreign)]).toEqual([false, true, true]);
    bounded.close();
    rmSync(live, { recursive: true });
    rmSync(foreign, { recursive: true });
  });

  it('refuses to move a row between partitions when the old image is incomplete', () => {
    const columns = DOCS_V1;
    const relation = { oid: 1, version: relationVersionOf('app', 'docs', columns), columns };
    const at = (n: bigint) => lsnFromBigInt(0x1000n + n);
    const base = {
      tenant: 'acme',
      schema: 'app',
      table: 'docs',
      relation,
      truncate: null,
      xid: 5,
      eventLsn: at(0n),
      commitTimeUs: 1n,
      origin: null,
      claim: null,
    } as const;
    const bounded = new BoundedFold({
      tenant: 'acme',
      visibleInSnapshot: () => false,
      target: {},
      memoryBytes: 0,
      tempDir: spillRoot,
    });
    try {
      bounded.apply({
        ...base,
        op: 'insert',
        before: null,
        after: [
          { kind: 'text', text: '1' },
          { kind: 'text', text: 'acme' },
          { kind: 'text', text: 'big' },
        ],
        commitLsn: at(1n),
        sequence: 0,
      });
      // Keys 1 → 2..n until one lands in another partition; body left unsent, no old value.
      const moves = () => {
        for (let id = 2; id < 200; id++) {
          bounded.apply({
            ...base,
            op: 'update',
            before: [
              { kind: 'text', text: String(id - 1) },
              { kind: 'absent' },
              { kind: 'absent' },
            ],
            after: [
              { kind: 'text', text: String(id) },
              { kind: 'text', text: 'acme' },
              { kind: 'unchanged-toast' },
            ],
            commitLsn: at(BigInt(id)),
            sequence: 0,
          });
        }
      };
      expect(moves).toThrow(
        /moves a row to another key, but its old row image is incomplete.*BACKTRACK_RESTORE_MEMORY_MB/,
      );
    } finally {
      bounded.close();
    }
  });
});
