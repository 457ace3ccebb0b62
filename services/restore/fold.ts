/**
 * The fold (pure): a tenant's rows as of instant T, from the rows of a base snapshot and
 * the change events after it.
 *
 * - An event is applied when its transaction is invisible to the snapshot (the snapshot
 *   does not already hold its effect) and it committed at or before T.
 * - Events come in log order: (commit LSN, sequence). A repeated position (an event
 *   archived twice, or read from both a segment and the Kafka tail) is skipped.
 * - Rows are keyed by primary key. An UPDATE keeps unchanged-TOAST columns from the prior
 *   row; an UPDATE of the key moves the row; DELETE removes; TRUNCATE empties the table.
 * - A row keeps the column list it was written with; rows are read out in the column set
 *   of the table as of T (the newest relation version applied, from the tenant's own
 *   events or from the `schema` events every tenant reads in `_all`); a column a row never had
 *   reads as the column's missing value (the constant DEFAULT it was added with), or NULL.
 * - A row of the schema history (`backtrack.source_ddl`, recorded by the source's event
 *   triggers in the DDL's own transaction) sets a table's columns at its place in the log: a
 *   renamed column keeps its values (the row's column names are renamed), a renamed table
 *   keeps its rows, a dropped table is gone, a new table exists (empty). A column keeps the
 *   missing value it was added with, even after a later rewrite of the table clears it.
 * Updates or deletes of rows the fold does not know are counted as anomalies, never hidden.
 */
import { BacktrackError } from '../../shared/errors.js';
import {
  type ChangeEvent,
  type ColumnValue,
  compareEventPosition,
  type EventPosition,
  TENANT_ALL,
} from '../../shared/events/index.js';
import type { Lsn } from '../../shared/lsn.js';
import type { CopyRow } from '../../shared/pg/copy-text.js';
import {
  type DdlChange,
  isDdlHistoryEvent,
  parseDdlEvent,
} from '../../shared/source/ddl-history.js';

/** A column of a table shape. */
export interface FoldColumn {
  readonly name: string;
  readonly typeName: string;
  readonly primaryKey: boolean;
  /** What rows that predate the column read (see EventColumn.missing); null: NULL. */
  readonly missing: string | null;
}

/** A table's columns at one moment. */
export interface TableShape {
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly FoldColumn[];
}

/** Up to where events apply: commit time (µs since the epoch) and/or commit LSN. */
export interface FoldTarget {
  readonly commitTimeUs?: bigint;
  readonly commitLsn?: Lsn;
}

/** What the fold needs to know beyond its input. */
export interface FoldOptions {
  readonly tenant: string;
  /** True when the 32-bit xid's transaction is visible in the base snapshot. */
  readonly visibleInSnapshot: (xid: number) => boolean;
  readonly target: FoldTarget;
}

/** Per-table counts of what the applied events did. */
export interface TableActivity {
  inserts: number;
  updates: number;
  deletes: number;
  truncates: number;
  /** Updates or deletes of rows the fold did not hold: a sign of missing history. */
  anomalies: number;
}

/** What became of one event. */
export type FoldOutcome =
  'applied' | 'visible-in-snapshot' | 'duplicate' | 'after-target' | 'other-tenant';

interface StoredRow {
  /**
   * The column names `values` follows (shared between the rows of one table written with
   * the same columns; renamed in place when a DDL renames a column).
   */
  readonly columns: readonly string[];
  readonly values: (string | null)[];
}

interface TableState {
  shape: TableShape;
  readonly rows: Map<string, StoredRow>;
  readonly activity: TableActivity;
  /** Estimated heap bytes of `rows`. */
  bytes: number;
}

/** A row as the fold holds it, with its key (see {@link Fold.drainRows}). */
export interface HeldRow {
  readonly table: string;
  readonly key: string;
  readonly columns: readonly string[];
  readonly values: readonly (string | null)[];
}

/**
 * Estimated heap bytes of one held row: the map entry, the row and its array, the key and
 * the values (one byte per character, as V8 stores Latin-1 strings; more for others).
 */
export function heldRowBytes(key: string, values: readonly (string | null)[]): number {
  let bytes = 120 + key.length;
  for (const value of values) bytes += 24 + (value === null ? 0 : value.length);
  return bytes;
}

function newActivity(): TableActivity {
  return { inserts: 0, updates: 0, deletes: 0, truncates: 0, anomalies: 0 };
}

/** The primary key of a row as one string (NUL cannot occur in Postgres text). */
export function rowKey(
  primaryKey: readonly boolean[],
  values: readonly (string | null)[],
  table: string,
): string {
  let key = '';
  let parts = 0;
  for (let i = 0; i < primaryKey.length; i++) {
    if (!primaryKey[i]) continue;
    const value = values[i];
    if (value === null || value === undefined) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `${table}: a row has no value for its primary key`,
      );
    }
    key += parts++ === 0 ? value : `\u0000${value}`;
  }
  if (parts === 0) {
    throw new BacktrackError(
      'INTEGRITY_FAILED',
      `${table} has no primary key; Backtrack cannot tell its rows apart`,
    );
  }
  return key;
}

/** Qualified name `schema.table`. */
export function tableKey(schema: string, table: string): string {
  return `${schema}.${table}`;
}

function shapeOf(event: ChangeEvent, prior: TableShape | undefined): TableShape {
  const before = new Map((prior?.columns ?? []).map((c) => [c.name, c]));
  return {
    schema: event.schema,
    table: event.table,
    columns: event.relation.columns.map((c) => ({
      name: c.name,
      typeName: c.typeName,
      primaryKey: c.primaryKey,
      // Rows older than the column keep the value it was added with: a later rewrite of the
      // table (ALTER … TYPE) clears attmissingval but wrote that value into those rows.
      missing: c.missing ?? before.get(c.name)?.missing ?? null,
    })),
  };
}

/** A table's shape after a DDL of the schema history. */
function ddlShape(change: DdlChange, prior: TableShape | undefined): TableShape {
  const before = new Map((prior?.columns ?? []).map((c) => [c.name, c]));
  return {
    schema: change.schema,
    table: change.table,
    columns: change.columns.map((c) => ({
      name: c.name,
      typeName: c.type,
      primaryKey: c.primaryKey,
      missing:
        c.previous === null ? c.missing : (before.get(c.previous)?.missing ?? c.missing ?? null),
    })),
  };
}

/** Folds a snapshot and the events after it into a tenant's rows as of the target. */
export class Fold {
  private readonly tables = new Map<string, TableState>();
  /** Per table, the column lists its rows follow, by their names joined. */
  private readonly columnLists = new Map<string, Map<string, string[]>>();
  private last: EventPosition | undefined;
  private applied = 0;
  private firstApplied: ChangeEvent | undefined;
  private lastApplied: ChangeEvent | undefined;
  private bytes = 0;
  private readonly ddlNotes: string[] = [];
  /** Per table, columns whose type a DDL changed while the table existed (see retyped()). */
  private readonly retypedColumns = new Map<string, Set<string>>();

  constructor(private readonly options: FoldOptions) {}

  /**
   * What the schema history replayed that the log cannot make exact: rows untouched since
   * an `ALTER … TYPE … USING` or an `ADD COLUMN` with a volatile default (Postgres rewrote
   * them without logical WAL).
   */
  ddlWarnings(): readonly string[] {
    return this.ddlNotes;
  }

  /**
   * Columns of a table whose type changed (ALTER … TYPE) after rows may have been written
   * with the old one: their text must go through the new type's input before it compares
   * with what Postgres reads back ('5' becomes '5.00' in numeric(10,2)).
   */
  retyped(qualified: string): ReadonlySet<string> {
    return this.retypedColumns.get(qualified) ?? new Set();
  }

  /** Declares a table as the snapshot has it. Must come before its snapshot rows. */
  addTable(shape: TableShape): void {
    this.tables.set(tableKey(shape.schema, shape.table), {
      shape,
      rows: new Map(),
      activity: newActivity(),
      bytes: 0,
    });
  }

  /** A row of the base snapshot, values in the order of the shape given to addTable. */
  addSnapshotRow(schema: string, table: string, values: CopyRow): void {
    const state = this.state(schema, table);
    const columns = this.columnList(
      tableKey(schema, table),
      state.shape.columns.map((c) => c.name),
    );
    if (values.length !== columns.length) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `snapshot row of ${tableKey(schema, table)} has ${values.length} values for ${columns.length} columns`,
      );
    }
    const key = this.keyOf(
      state.shape.columns.map((c) => c.primaryKey),
      values,
      tableKey(schema, table),
    );
    this.put(state, key, { columns, values });
  }

  /** Applies one event; events must come in log order. */
  apply(event: ChangeEvent): FoldOutcome {
    const outcome = this.admit(event);
    if (outcome === 'applied') this.applyAdmitted(event);
    return outcome;
  }

  /**
   * Decides what becomes of an event without applying it: 'applied' when it must be. Also
   * checks the log order and remembers the position (so call it once per event).
   */
  admit(event: ChangeEvent): FoldOutcome {
    if (event.tenant !== this.options.tenant && event.tenant !== TENANT_ALL) return 'other-tenant';
    const { target } = this.options;
    if (
      (target.commitTimeUs !== undefined && event.commitTimeUs > target.commitTimeUs) ||
      (target.commitLsn !== undefined && event.commitLsn > target.commitLsn)
    ) {
      return 'after-target';
    }
    if (this.last) {
      const order = compareEventPosition(event, this.last);
      if (order === 0) return 'duplicate';
      if (order < 0) {
        throw new BacktrackError(
          'INTEGRITY_FAILED',
          `events out of order: ${event.commitLsn}:${event.sequence} after ${this.last.commitLsn}:${this.last.sequence}`,
        );
      }
    }
    this.last = { commitLsn: event.commitLsn, sequence: event.sequence };
    if (this.options.visibleInSnapshot(event.xid)) return 'visible-in-snapshot';
    if (event.claim) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `event ${event.commitLsn}:${event.sequence} still points to ${event.claim.key}; resolve claim checks before folding`,
      );
    }
    return 'applied';
  }

  /** Applies an event {@link admit} accepted (or one read back from a spill file). */
  applyAdmitted(event: ChangeEvent): void {
    if (isDdlHistoryEvent(event)) {
      if (event.op === 'insert') this.applyDdl(parseDdlEvent(event));
      this.count(event);
      return;
    }
    const state = this.stateFor(event);
    switch (event.op) {
      case 'insert':
        this.insert(state, event);
        break;
      case 'update':
        this.update(state, event);
        break;
      case 'delete':
        this.delete(state, event);
        break;
      case 'truncate':
        this.clear(state);
        state.activity.truncates += 1;
        break;
      case 'schema':
        // The table's column set as of this event (stateFor took it); no row changes.
        break;
    }
    this.count(event);
  }

  /**
   * Takes note of an event {@link admit} accepted whose rows are folded elsewhere (in a
   * spill partition): the table's shape and the replayed span follow it, rows do not.
   */
  noteApplied(event: ChangeEvent): void {
    if (isDdlHistoryEvent(event)) {
      this.applyAdmitted(event);
      return;
    }
    this.stateFor(event);
    this.count(event);
  }

  /**
   * A DDL of the schema history: the table's columns from here on. Rows keep their values
   * across a column or table rename; a dropped table leaves the restore.
   */
  applyDdl(change: DdlChange): void {
    const name = tableKey(change.schema, change.table);
    if (change.dropped) {
      const state = this.tables.get(name);
      if (state) this.clear(state);
      this.tables.delete(name);
      this.columnLists.delete(name);
      this.retypedColumns.delete(name);
      return;
    }
    if (change.previous) {
      const from = tableKey(change.previous.schema, change.previous.table);
      const moved = this.tables.get(from);
      if (moved && from !== name) {
        const replaced = this.tables.get(name);
        if (replaced) this.clear(replaced);
        this.tables.delete(from);
        this.tables.set(name, moved);
        const lists = this.columnLists.get(from);
        this.columnLists.delete(from);
        if (lists) this.columnLists.set(name, lists);
        else this.columnLists.delete(name);
        const retyped = this.retypedColumns.get(from);
        this.retypedColumns.delete(from);
        if (retyped) this.retypedColumns.set(name, retyped);
        else this.retypedColumns.delete(name);
      }
    }
    const renames = new Map<string, string>();
    for (const column of change.columns) {
      if (column.previous !== null && column.previous !== column.name)
        renames.set(column.previous, column.name);
    }
    if (renames.size > 0) this.renameColumns(name, renames);
    const state = this.tables.get(name);
    if (state) this.noteRewrites(change, state.shape);
    const retyped = new Set<string>();
    for (const column of change.columns) {
      const was = this.retypedColumns.get(name)?.has(column.previous ?? '') === true;
      const old = state?.shape.columns.find((c) => c.name === column.previous);
      if (was || (old !== undefined && old.typeName !== column.type)) retyped.add(column.name);
    }
    if (retyped.size > 0) this.retypedColumns.set(name, retyped);
    else this.retypedColumns.delete(name);
    if (state) {
      state.shape = ddlShape(change, state.shape);
    } else {
      this.tables.set(name, {
        shape: ddlShape(change, undefined),
        rows: new Map(),
        activity: newActivity(),
        bytes: 0,
      });
    }
  }

  /** Estimated heap bytes of the rows held. */
  heldBytes(): number {
    return this.bytes;
  }

  /** Hands over every row held, table by table, and forgets them (shapes and counts stay). */
  *drainRows(): Generator<HeldRow> {
    for (const [table, state] of this.tables) {
      for (const [key, row] of state.rows) {
        yield { table, key, columns: row.columns, values: row.values };
      }
      this.clear(state);
    }
  }

  private noteRewrites(change: DdlChange, prior: TableShape): void {
    const before = new Map(prior.columns.map((c) => [c.name, c]));
    const statement = change.statement ?? change.command;
    for (const column of change.columns) {
      const old = column.previous === null ? undefined : before.get(column.previous);
      if (old && old.typeName !== column.type && /\bUSING\b/i.test(statement)) {
        this.ddlNotes.push(
          `${change.schema}.${change.table}.${column.name} changed type from ${old.typeName} to ${column.type} with a USING expression; rows unchanged since (if any) read their earlier value through ${column.type}'s input, not through that expression ("${statement.slice(0, 200)}")`,
        );
      }
      if (column.previous === null && column.missing === null && /\bDEFAULT\b/i.test(statement)) {
        this.ddlNotes.push(
          `${change.schema}.${change.table}.${column.name} was added with a default Postgres computed per row (volatile); rows older than it (if any) read NULL in the restore ("${statement.slice(0, 200)}")`,
        );
      }
    }
  }

  /** Sets a row as it is (a snapshot row or a moved row), counting nothing. */
  putRow(table: string, key: string, columns: readonly string[], values: (string | null)[]): void {
    this.put(this.held(table), key, { columns: this.columnList(table, columns), values });
  }

  /** The first half of an update that moved a row to a key held elsewhere: the row leaves. */
  moveOut(table: string, key: string): void {
    const state = this.held(table);
    if (!this.remove(state, key)) state.activity.anomalies += 1;
    state.activity.updates += 1;
  }

  /** Empties a table for a truncate counted elsewhere. */
  clearTable(table: string): void {
    this.clear(this.held(table));
  }

  /** Sets a table's shape as of the target (when events of it were applied elsewhere). */
  setShape(shape: TableShape): void {
    const key = tableKey(shape.schema, shape.table);
    const state = this.tables.get(key);
    if (state) state.shape = shape;
    else this.addTable(shape);
  }

  /** Tables known to the fold (declared or met in events). */
  tableNames(): string[] {
    return [...this.tables.keys()];
  }

  /** A table's columns as of the target. */
  shape(qualified: string): TableShape {
    return this.existing(qualified).shape;
  }

  /** Rows of a table as of the target, in its shape's column order. */
  *rows(qualified: string): Generator<CopyRow> {
    const state = this.existing(qualified);
    const names = state.shape.columns.map((c) => c.name);
    const missing = state.shape.columns.map((c) => c.missing);
    const positions = new Map<readonly string[], number[]>();
    for (const row of state.rows.values()) {
      let map = positions.get(row.columns);
      if (!map) {
        const index = new Map(row.columns.map((name, i) => [name, i]));
        map = names.map((name) => index.get(name) ?? -1);
        positions.set(row.columns, map);
      }
      yield map.map((i, column) => (i < 0 ? (missing[column] ?? null) : (row.values[i] ?? null)));
    }
  }

  /** Number of rows of a table as of the target. */
  rowCount(qualified: string): number {
    return this.existing(qualified).rows.size;
  }

  /** What the applied events did to a table. */
  activity(qualified: string): TableActivity {
    return { ...this.existing(qualified).activity };
  }

  /** Events applied, and the commit times of the first and last (the span replayed). */
  replayed(): { events: number; fromUs: bigint | undefined; toUs: bigint | undefined } {
    return {
      events: this.applied,
      fromUs: this.firstApplied?.commitTimeUs,
      toUs: this.lastApplied?.commitTimeUs,
    };
  }

  private insert(state: TableState, event: ChangeEvent): void {
    const after = this.image(event, 'after');
    const values = after.map((v) => (v.kind === 'text' ? v.text : null));
    const key = this.eventKey(event, after);
    this.put(state, key, {
      columns: this.columnList(
        tableKey(event.schema, event.table),
        event.relation.columns.map((c) => c.name),
      ),
      values,
    });
    state.activity.inserts += 1;
  }

  private update(state: TableState, event: ChangeEvent): void {
    const after = this.image(event, 'after');
    const before = event.before;
    const oldKey = this.eventKey(event, before ?? after);
    const prior = state.rows.get(oldKey);
    if (!prior) state.activity.anomalies += 1;
    const names = event.relation.columns.map((c) => c.name);
    const values = after.map((value, i): string | null => {
      switch (value.kind) {
        case 'text':
          return value.text;
        case 'null':
          return null;
        case 'unchanged-toast':
        case 'absent': {
          // The value did not change: the row's previous value, else the old image's.
          const name = names[i] ?? '';
          const fromPrior = prior ? prior.values[prior.columns.indexOf(name)] : undefined;
          if (fromPrior !== undefined) return fromPrior;
          const old = before?.[i];
          if (old?.kind === 'text') return old.text;
          if (old?.kind === 'null') return null;
          throw new BacktrackError(
            'INTEGRITY_FAILED',
            `${tableKey(event.schema, event.table)}: unchanged value of ${name} at ${event.commitLsn}:${event.sequence} has no earlier value to keep`,
          );
        }
      }
    });
    const newKey = this.keyOf(
      event.relation.columns.map((c) => c.primaryKey),
      values,
      tableKey(event.schema, event.table),
    );
    if (newKey !== oldKey) this.remove(state, oldKey);
    this.put(state, newKey, {
      columns: this.columnList(tableKey(event.schema, event.table), names),
      values,
    });
    state.activity.updates += 1;
  }

  private delete(state: TableState, event: ChangeEvent): void {
    const before = this.image(event, 'before');
    const key = this.eventKey(event, before);
    if (!this.remove(state, key)) state.activity.anomalies += 1;
    state.activity.deletes += 1;
  }

  private put(state: TableState, key: string, row: StoredRow): void {
    const prior = state.rows.get(key);
    const change = heldRowBytes(key, row.values) - (prior ? heldRowBytes(key, prior.values) : 0);
    state.rows.set(key, row);
    state.bytes += change;
    this.bytes += change;
  }

  private remove(state: TableState, key: string): boolean {
    const prior = state.rows.get(key);
    if (!prior) return false;
    state.rows.delete(key);
    const change = heldRowBytes(key, prior.values);
    state.bytes -= change;
    this.bytes -= change;
    return true;
  }

  private clear(state: TableState): void {
    state.rows.clear();
    this.bytes -= state.bytes;
    state.bytes = 0;
  }

  private count(event: ChangeEvent): void {
    this.applied += 1;
    this.firstApplied ??= event;
    this.lastApplied = event;
  }

  private image(event: ChangeEvent, which: 'before' | 'after'): readonly ColumnValue[] {
    const image = event[which];
    if (!image) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `${event.op} of ${tableKey(event.schema, event.table)} at ${event.commitLsn}:${event.sequence} has no ${which} image`,
      );
    }
    return image;
  }

  private eventKey(event: ChangeEvent, image: readonly ColumnValue[]): string {
    const values = image.map((v) => (v.kind === 'text' ? v.text : null));
    return this.keyOf(
      event.relation.columns.map((c) => c.primaryKey),
      values,
      tableKey(event.schema, event.table),
    );
  }

  private keyOf(
    primaryKey: readonly boolean[],
    values: readonly (string | null)[],
    table: string,
  ): string {
    return rowKey(primaryKey, values, table);
  }

  /**
   * One shared array per table and distinct column list, so rows do not each carry their
   * names, and a rename renames every row of the table at once.
   */
  private columnList(table: string, names: readonly string[]): readonly string[] {
    let lists = this.columnLists.get(table);
    if (!lists) {
      lists = new Map();
      this.columnLists.set(table, lists);
    }
    const key = names.join('\u0000');
    let list = lists.get(key);
    if (!list) {
      list = [...names];
      lists.set(key, list);
    }
    return list;
  }

  /** Renames columns in every column list of a table (old name → new name, all at once). */
  private renameColumns(table: string, renames: ReadonlyMap<string, string>): void {
    const lists = this.columnLists.get(table);
    if (!lists) return;
    const renamed = new Map<string, string[]>();
    for (const list of lists.values()) {
      for (let i = 0; i < list.length; i++) {
        const to = renames.get(list[i] ?? '');
        if (to !== undefined) list[i] = to;
      }
      // A list that now equals another keeps its own array; rows read by array either way.
      const key = list.join('\u0000');
      if (!renamed.has(key)) renamed.set(key, list);
    }
    this.columnLists.set(table, renamed);
  }

  private state(schema: string, table: string): TableState {
    return this.existing(tableKey(schema, table));
  }

  /**
   * A table rows are put into by name (a spill partition's): created without columns when
   * not met yet, e.g. under a name a later DDL renames, so that the DDL gives its shape.
   */
  private held(qualified: string): TableState {
    let state = this.tables.get(qualified);
    if (!state) {
      const dot = qualified.indexOf('.');
      state = {
        shape: { schema: qualified.slice(0, dot), table: qualified.slice(dot + 1), columns: [] },
        rows: new Map(),
        activity: newActivity(),
        bytes: 0,
      };
      this.tables.set(qualified, state);
    }
    return state;
  }

  private existing(qualified: string): TableState {
    const state = this.tables.get(qualified);
    if (!state)
      throw new BacktrackError('INTERNAL', `table ${qualified} is not part of this restore`);
    return state;
  }

  /** The table of an event, created when first met; its shape follows the event's relation. */
  private stateFor(event: ChangeEvent): TableState {
    const key = tableKey(event.schema, event.table);
    let state = this.tables.get(key);
    if (!state) {
      state = {
        shape: shapeOf(event, undefined),
        rows: new Map(),
        activity: newActivity(),
        bytes: 0,
      };
      this.tables.set(key, state);
    } else {
      // The column set as of the target is that of the newest event applied.
      state.shape = shapeOf(event, state.shape);
    }
    return state;
  }
}
