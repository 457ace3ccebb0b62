/**
 * The fold with bounded memory. Rows are folded in memory (fold.ts) until they are
 * estimated to take `memoryBytes`; then the fold spills: every row held, and from then on
 * every applied event, goes to one of 64 partition files by a hash of (table, primary key),
 * and each partition is folded on its own at the end, its rows written out as COPY text.
 * A partition file larger than the budget is split again (another hash), up to
 * {@link MAX_DEPTH} levels, so rows in memory stay near the budget at any size of tenant.
 *
 * Every event touches one row, so it goes to that row's partition; two cases differ:
 * - a truncate empties the table in every partition written so far (others hold nothing
 *   to empty), and is counted by the head;
 * - an update that moves a row to a key in another partition is split in two: the old
 *   key leaves its partition, the new row, completed from the old row image (replica
 *   identity FULL gives every column), enters the other.
 * - a DDL of the schema history (a column or table renamed, a table dropped) goes to every
 *   partition, in its place among their records; a renamed table keeps its number, so its
 *   rows stay in their partitions.
 * What the fold decides globally (log order, duplicates, target, snapshot visibility, the
 * table shapes as of T, the replayed span) stays with the head fold in memory.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BacktrackError } from '../../shared/errors.js';
import type {
  ChangeEvent,
  ChangeOp,
  ColumnValue,
  RelationVersion,
} from '../../shared/events/index.js';
import type { Lsn } from '../../shared/lsn.js';
import { type CopyRow, formatCopyRow, parseCopyRow } from '../../shared/pg/copy-text.js';
import { isDdlHistoryEvent, parseDdlEvent } from '../../shared/source/ddl-history.js';

import {
  Fold,
  type FoldOptions,
  type FoldOutcome,
  type TableActivity,
  type TableShape,
  rowKey,
  tableKey,
} from './fold.js';
import { readLines, readRecords, RecordEncoder, SpillWriter } from './spill.js';

/** Partitions per level. */
export const FANOUT = 64;
/** Levels of partitioning at most (64^3 partitions). */
export const MAX_DEPTH = 3;

/** The rows of a tenant as of T, as the rest of a restore reads them. */
export interface FoldedRows {
  tableNames(): string[];
  shape(table: string): TableShape;
  rows(table: string): Iterable<CopyRow>;
  rowCount(table: string): number;
  activity(table: string): TableActivity;
  replayed(): { events: number; fromUs: bigint | undefined; toUs: bigint | undefined };
  /** Partitions of the rows (1 when they stayed in memory); the same for every table. */
  partitionCount(): number;
  /** The partition a row of `table` with primary key `key` (see rowKey) belongs to. */
  partitionOf(table: string, key: string): number;
  /** Rows of one partition of a table. */
  partitionRows(table: string, partition: number): Iterable<CopyRow>;
  /** Where spill files may go (for the dry run's own), or undefined when nothing spilled. */
  spillFolder(): string | undefined;
  /** Columns of a table whose type changed after rows were written (see Fold.retyped). */
  retyped(table: string): ReadonlySet<string>;
}

/** Options of a {@link BoundedFold}. */
export interface BoundedFoldOptions extends FoldOptions {
  /** Rows held in memory before spilling (estimated bytes). */
  readonly memoryBytes: number;
  /** Folder for spill files (a private folder is made inside); default the OS temp dir. */
  readonly tempDir?: string;
}

/** What the spill did, for logs and the summary. */
export interface SpillStats {
  readonly spilled: boolean;
  readonly partitions: number;
  readonly bytesWritten: number;
}

const ROW = 1;
const EVENT = 2;
const MOVE_OUT = 3;
const TRUNCATE = 4;

/** Tables, column lists and relation versions, by number, for spill records. */
class Registry {
  readonly tables: string[] = [];
  private readonly tableIds = new Map<string, number>();
  readonly columnLists: (readonly string[])[] = [];
  private readonly columnListIds = new Map<string, number>();
  /** Relation versions by number, with the number their table had when first met. */
  readonly relations: {
    schema: string;
    table: string;
    relation: RelationVersion;
    tableId: number;
  }[] = [];
  private readonly relationIds = new Map<string, number>();

  table(name: string): number {
    let id = this.tableIds.get(name);
    if (id === undefined) {
      id = this.tables.push(name) - 1;
      this.tableIds.set(name, id);
    }
    return id;
  }

  /** Table names, by number: spill records name a table as it was called when written. */
  readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  /** Per table number, the number of its name now. */
  private readonly current: number[] = [];

  /** The number of the name table `id` has now. */
  currentName(id: number): number {
    let nameId = this.current[id];
    if (nameId === undefined) {
      nameId = this.nameId(this.tables[id] ?? '');
      this.current[id] = nameId;
    }
    return nameId;
  }

  /** The number of a table name. */
  nameId(name: string): number {
    let id = this.nameIds.get(name);
    if (id === undefined) {
      id = this.names.push(name) - 1;
      this.nameIds.set(name, id);
    }
    return id;
  }

  /** A renamed table keeps its number (and so its partitions); the old name is free again. */
  rename(from: string, to: string): void {
    const id = this.tableIds.get(from);
    if (id === undefined || from === to) return;
    this.tableIds.delete(from);
    this.tableIds.set(to, id);
    this.current[id] = this.nameId(to);
  }

  columns(names: readonly string[]): number {
    const key = names.join('\u0000');
    let id = this.columnListIds.get(key);
    if (id === undefined) {
      // A copy: the fold renames its own lists in place.
      id = this.columnLists.push([...names]) - 1;
      this.columnListIds.set(key, id);
    }
    return id;
  }

  relation(event: ChangeEvent): number {
    const key = `${tableKey(event.schema, event.table)}\u0000${event.relation.oid}\u0000${event.relation.version}`;
    let id = this.relationIds.get(key);
    if (id === undefined) {
      id =
        this.relations.push({
          schema: event.schema,
          table: event.table,
          relation: event.relation,
          tableId: this.table(tableKey(event.schema, event.table)),
        }) - 1;
      this.relationIds.set(key, id);
    }
    return id;
  }
}

/** 32-bit hash of (seed, table id, key): FNV-1a, then a finalizer to spread the bits. */
function partitionHash(seed: number, table: number, key: string): number {
  let h = (0x811c9dc5 ^ Math.imul(seed + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ table, 0x01000193);
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const OP_CODES: Record<ChangeOp, number> = {
  insert: 0,
  update: 1,
  delete: 2,
  truncate: 3,
  schema: 4,
};
const OPS: readonly ChangeOp[] = ['insert', 'update', 'delete', 'truncate', 'schema'];

function texts(image: readonly ColumnValue[]): (string | null)[] {
  return image.map((v) => (v.kind === 'text' ? v.text : null));
}

const SPILL_PREFIX = 'backtrack-restore-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the spill folders of restores whose process is gone (killed before it could
 * clean up). A folder of a live process, or without a pid, is left alone.
 */
export function removeAbandonedSpills(base: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(base)) {
    const pid = Number(/^backtrack-restore-(\d+)-/.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || alive(pid)) continue;
    rmSync(join(base, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** Writes records into FANOUT partition files of one level. */
class Router {
  private readonly writers: (SpillWriter | undefined)[] = new Array<SpillWriter | undefined>(
    FANOUT,
  );
  private readonly encoder = new RecordEncoder();

  constructor(
    private readonly registry: Registry,
    private readonly folder: string,
    /** The level: seeds the hash, so a split partition spreads again. */
    readonly seed: number,
  ) {
    mkdirSync(folder, { recursive: true });
  }

  path(partition: number): string {
    return join(this.folder, `p${partition}.spill`);
  }

  /**
   * A row as it is: a snapshot row, a row held in memory, or a moved row. `name` is the
   * number of the table's name when the row was written (default: its name now).
   */
  row(
    table: number,
    key: string,
    columns: readonly string[],
    values: readonly (string | null)[],
    name: number = this.registry.currentName(table),
  ) {
    const record = this.encoder
      .begin(ROW)
      .u32(table)
      .u32(name)
      .u32(this.registry.columns(columns))
      .text(key)
      .texts(values)
      .finish();
    this.write(this.partition(table, key), record);
  }

  /**
   * An applied event, to the partition of the row it touches (or split, or to all).
   * `tableId`: its table's number when it was first written (read back from a spill file:
   * the name may have been renamed since, and then freed for another table).
   */
  event(event: ChangeEvent, tableId?: number): void {
    if (isDdlHistoryEvent(event)) {
      // Renames and drops reach the rows wherever they are: every partition written so far
      // (records written later name their table as it is called then).
      for (let p = 0; p < FANOUT; p++) if (this.writers[p]) this.writeEvent(p, event);
      return;
    }
    const name = tableKey(event.schema, event.table);
    const table = tableId ?? this.registry.table(name);
    if (event.op === 'truncate') {
      this.truncate(table);
      return;
    }
    const primaryKey = event.relation.columns.map((c) => c.primaryKey);
    if (event.op === 'insert' || event.op === 'delete') {
      const image = event.op === 'insert' ? event.after : event.before;
      const key = rowKey(primaryKey, texts(image ?? []), name);
      this.writeEvent(this.partition(table, key), event);
      return;
    }
    const after = event.after ?? [];
    const before = event.before;
    const oldKey = rowKey(primaryKey, texts(before ?? after), name);
    // The new row as far as the event itself tells it: unchanged values from the old image.
    let complete = true;
    const values = after.map((value, i): string | null => {
      if (value.kind === 'text') return value.text;
      if (value.kind === 'null') return null;
      const old = before?.[i];
      if (old?.kind === 'text') return old.text;
      if (old?.kind === 'null') return null;
      complete = false;
      return null;
    });
    const unresolvedKey = after.some(
      (v, i) => primaryKey[i] === true && (v.kind === 'unchanged-toast' || v.kind === 'absent'),
    );
    const newKey = unresolvedKey ? oldKey : rowKey(primaryKey, values, name);
    const from = this.partition(table, oldKey);
    const to = this.partition(table, newKey);
    if (from === to) {
      this.writeEvent(from, event);
      return;
    }
    if (!complete) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `${name}: the update at ${event.commitLsn}:${event.sequence} moves a row to another key, but its old row image is incomplete (replica identity not FULL), so the row cannot be moved between spill partitions; raise BACKTRACK_RESTORE_MEMORY_MB so this restore folds in memory, and run \`backtrack setup\``,
      );
    }
    // By the event's own name: the table may be renamed later in the log.
    const called = this.registry.nameId(name);
    this.moveOut(table, oldKey, called);
    this.row(
      table,
      newKey,
      event.relation.columns.map((c) => c.name),
      values,
      called,
    );
  }

  /** Empties a table in every partition that may hold rows of it (any written to). */
  truncate(table: number, name: number = this.registry.currentName(table)): void {
    const record = this.encoder.begin(TRUNCATE).u32(table).u32(name).finish();
    for (let p = 0; p < FANOUT; p++) if (this.writers[p]) this.write(p, record);
  }

  moveOut(table: number, key: string, name: number = this.registry.currentName(table)): void {
    this.write(
      this.partition(table, key),
      this.encoder.begin(MOVE_OUT).u32(table).u32(name).text(key).finish(),
    );
  }

  partition(table: number, key: string): number {
    return partitionHash(this.seed, table, key) % FANOUT;
  }

  /** Closes every file; returns the partitions written (others are empty). */
  close(): boolean[] {
    return this.writers.map((writer) => {
      writer?.close();
      return writer !== undefined;
    });
  }

  bytes(): number {
    return this.writers.reduce((n, w) => n + (w?.bytes ?? 0), 0);
  }

  private writeEvent(partition: number, event: ChangeEvent): void {
    const record = this.encoder
      .begin(EVENT)
      .u32(this.registry.relation(event))
      .u8(OP_CODES[event.op])
      .u64(event.commitLsn)
      .u32(event.sequence)
      .image(event.before)
      .image(event.after)
      .finish();
    this.write(partition, record);
  }

  private write(partition: number, record: Buffer): void {
    let writer = this.writers[partition];
    if (!writer) {
      writer = new SpillWriter(this.path(partition));
      this.writers[partition] = writer;
    }
    writer.write(record);
  }
}

/** One spill record read back. */
type SpillRecord =
  | {
      kind: 'row';
      table: number;
      name: number;
      columns: number;
      key: string;
      values: (string | null)[];
    }
  | { kind: 'event'; event: ChangeEvent; tableId: number }
  | { kind: 'move-out'; table: number; name: number; key: string }
  | { kind: 'truncate'; table: number; name: number };

function* spillRecords(path: string, registry: Registry): Generator<SpillRecord> {
  for (const [type, d] of readRecords(path)) {
    switch (type) {
      case ROW: {
        const table = d.u32();
        const name = d.u32();
        const columns = d.u32();
        const key = d.text() ?? '';
        yield { kind: 'row', table, name, columns, key, values: d.texts() };
        break;
      }
      case EVENT: {
        const relation = registry.relations[d.u32()];
        if (!relation) throw new BacktrackError('INTERNAL', `spill file ${path}: unknown relation`);
        const op = OPS[d.u8()] ?? 'insert';
        const commitLsn = d.u64() as Lsn;
        const sequence = d.u32();
        const before = d.image();
        const after = d.image();
        yield {
          kind: 'event',
          tableId: relation.tableId,
          event: {
            tenant: '',
            schema: relation.schema,
            table: relation.table,
            op,
            relation: relation.relation,
            before,
            after,
            truncate: null,
            xid: 0,
            commitLsn,
            eventLsn: commitLsn,
            commitTimeUs: 0n,
            sequence,
            origin: null,
            claim: null,
          },
        };
        break;
      }
      case MOVE_OUT: {
        const table = d.u32();
        const name = d.u32();
        yield { kind: 'move-out', table, name, key: d.text() ?? '' };
        break;
      }
      case TRUNCATE: {
        const table = d.u32();
        yield { kind: 'truncate', table, name: d.u32() };
        break;
      }
      default:
        throw new BacktrackError('INTERNAL', `spill file ${path}: unknown record type ${type}`);
    }
  }
}

/** A partition folded: its rows per table in a file, counted. */
interface Leaf {
  readonly rows: Map<string, number>;
  readonly files: Map<string, string>;
}

/** Where a key lands: a leaf, or a partition split one level further. */
type PartitionNode = { leaf: number } | { seed: number; children: PartitionNode[] };

/** A fold that keeps its rows in memory up to a budget and spills past it. */
export class BoundedFold implements FoldedRows {
  private readonly head: Fold;
  private readonly registry = new Registry();
  private folder: string | undefined;
  private router: Router | undefined;
  private root: PartitionNode | undefined;
  private readonly leaves: Leaf[] = [];
  private readonly rowCounts = new Map<string, number>();
  private readonly activities = new Map<string, TableActivity>();
  private finished = false;
  private bytesWritten = 0;

  constructor(private readonly options: BoundedFoldOptions) {
    this.head = new Fold(options);
  }

  addTable(shape: TableShape): void {
    this.head.addTable(shape);
    this.registry.table(tableKey(shape.schema, shape.table));
  }

  addSnapshotRow(schema: string, table: string, values: CopyRow): void {
    if (!this.router) {
      this.head.addSnapshotRow(schema, table, values);
      this.maybeSpill();
      return;
    }
    const name = tableKey(schema, table);
    const shape = this.head.shape(name);
    const columns = shape.columns.map((c) => c.name);
    if (values.length !== columns.length) {
      throw new BacktrackError(
        'INTEGRITY_FAILED',
        `snapshot row of ${name} has ${values.length} values for ${columns.length} columns`,
      );
    }
    const key = rowKey(
      shape.columns.map((c) => c.primaryKey),
      values,
      name,
    );
    this.router.row(this.registry.table(name), key, columns, values);
  }

  apply(event: ChangeEvent): FoldOutcome {
    if (!this.router) {
      const outcome = this.head.apply(event);
      if (outcome === 'applied') this.maybeSpill();
      return outcome;
    }
    const outcome = this.head.admit(event);
    if (outcome !== 'applied') return outcome;
    if (isDdlHistoryEvent(event) && event.op === 'insert') {
      const change = parseDdlEvent(event);
      if (change.previous) {
        this.registry.rename(
          tableKey(change.previous.schema, change.previous.table),
          tableKey(change.schema, change.table),
        );
      }
    }
    // A truncate is counted here (the head holds no rows); the partitions only empty.
    if (event.op === 'truncate') this.head.applyAdmitted(event);
    else this.head.noteApplied(event);
    // A schema change touches no row: the head's shape is what every partition reads out in.
    if (event.op !== 'schema') this.router.event(event);
    return outcome;
  }

  /** Folds the spilled partitions (if any). Call once, after the last event. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const router = this.router;
    if (!router || !this.folder) return;
    this.bytesWritten += router.bytes();
    this.root = this.foldLevel(router, join(this.folder, 'fold'));
  }

  /** What the spill did. */
  spillStats(): SpillStats {
    return {
      spilled: this.router !== undefined,
      partitions: this.router ? this.leaves.length : 1,
      bytesWritten: this.bytesWritten,
    };
  }

  /** Removes the spill files. */
  close(): void {
    if (this.folder) rmSync(this.folder, { recursive: true, force: true });
  }

  tableNames(): string[] {
    return this.head.tableNames();
  }

  shape(table: string): TableShape {
    return this.head.shape(table);
  }

  *rows(table: string): Generator<CopyRow> {
    const count = this.partitionCount();
    for (let p = 0; p < count; p++) yield* this.partitionRows(table, p);
  }

  rowCount(table: string): number {
    this.assertFinished();
    if (!this.router) return this.head.rowCount(table);
    return this.rowCounts.get(table) ?? 0;
  }

  activity(table: string): TableActivity {
    const activity = this.head.activity(table);
    const spilled = this.activities.get(table);
    if (spilled) addActivity(activity, spilled);
    return activity;
  }

  replayed(): { events: number; fromUs: bigint | undefined; toUs: bigint | undefined } {
    return this.head.replayed();
  }

  /** Columns retyped by the schema history (see {@link Fold.retyped}). */
  retyped(table: string): ReadonlySet<string> {
    return this.head.retyped(table);
  }

  /** What the schema history could not replay exactly (see {@link Fold.ddlWarnings}). */
  ddlWarnings(): readonly string[] {
    return this.head.ddlWarnings();
  }

  partitionCount(): number {
    this.assertFinished();
    return this.router ? this.leaves.length : 1;
  }

  partitionOf(table: string, key: string): number {
    if (!this.root) return 0;
    let node: PartitionNode = this.root;
    const id = this.registry.table(table);
    for (;;) {
      if ('leaf' in node) return node.leaf;
      const child: PartitionNode | undefined =
        node.children[partitionHash(node.seed, id, key) % FANOUT];
      if (!child) throw new BacktrackError('INTERNAL', 'spill partition tree is incomplete');
      node = child;
    }
  }

  *partitionRows(table: string, partition: number): Generator<CopyRow> {
    this.assertFinished();
    if (!this.router) {
      if (partition === 0) yield* this.head.rows(table);
      return;
    }
    const file = this.leaves[partition]?.files.get(table);
    if (!file) return;
    for (const line of readLines(file)) yield parseCopyRow(line);
  }

  spillFolder(): string | undefined {
    return this.folder;
  }

  private assertFinished(): void {
    if (!this.finished) throw new BacktrackError('INTERNAL', 'the fold was read before finish()');
  }

  /** Past the budget: every row held goes to the partitions, and events follow. */
  private maybeSpill(): void {
    if (this.head.heldBytes() <= this.options.memoryBytes) return;
    const base = this.options.tempDir ?? tmpdir();
    try {
      mkdirSync(base, { recursive: true });
      removeAbandonedSpills(base);
      // The pid in the name lets a later restore tell a folder whose process was killed.
      this.folder = mkdtempSync(join(base, `${SPILL_PREFIX}${process.pid}-`));
    } catch (error) {
      throw new BacktrackError(
        'CONFIG_INVALID',
        `cannot make a spill folder in ${base}: ${error instanceof Error ? error.message : String(error)}; set BACKTRACK_RESTORE_TEMP_DIR to a writable folder`,
        { cause: error },
      );
    }
    const router = new Router(this.registry, join(this.folder, 'in'), 0);
    for (const row of this.head.drainRows()) {
      router.row(this.registry.table(row.table), row.key, row.columns, row.values);
    }
    this.router = router;
  }

  /** Folds the partitions a router wrote (splitting those too large); returns their node. */
  private foldLevel(router: Router, folder: string): PartitionNode {
    const written = router.close();
    const children: PartitionNode[] = [];
    for (let p = 0; p < FANOUT; p++) {
      const path = router.path(p);
      if (!written[p]) {
        children.push({ leaf: this.leaves.push({ rows: new Map(), files: new Map() }) - 1 });
        continue;
      }
      const canSplit = router.seed + 1 < MAX_DEPTH;
      const fits = !canSplit || statSync(path).size <= this.options.memoryBytes;
      const fold = fits ? this.foldFile(path, canSplit) : undefined;
      if (fold) {
        children.push({ leaf: this.writeLeaf(fold, join(folder, String(p))) });
      } else {
        const split = new Router(this.registry, join(folder, `${p}-split`), router.seed + 1);
        for (const record of spillRecords(path, this.registry)) this.route(split, record);
        this.bytesWritten += split.bytes();
        children.push(this.foldLevel(split, join(folder, String(p))));
      }
      rmSync(path);
    }
    return { seed: router.seed, children };
  }

  /** A record read back, to the partitions of the next level. */
  private route(router: Router, record: SpillRecord): void {
    switch (record.kind) {
      case 'row':
        router.row(
          record.table,
          record.key,
          this.columnList(record.columns),
          record.values,
          record.name,
        );
        break;
      case 'event':
        router.event(record.event, record.tableId);
        break;
      case 'move-out':
        router.moveOut(record.table, record.key, record.name);
        break;
      case 'truncate':
        router.truncate(record.table, record.name);
        break;
    }
  }

  /**
   * Folds one partition file in memory. Gives up (undefined) when its rows outgrow the
   * budget and `canSplit`: the partition is then split instead.
   */
  private foldFile(path: string, canSplit: boolean): Fold | undefined {
    const fold = new Fold({ tenant: '', visibleInSnapshot: () => false, target: {} });
    for (const table of this.head.tableNames()) fold.setShape(this.head.shape(table));
    for (const record of spillRecords(path, this.registry)) {
      if (record.kind === 'event' && isDdlHistoryEvent(record.event)) {
        // Tables the partition has not met yet take their shape from the DDL as well.
        if (record.event.op === 'insert') fold.applyDdl(parseDdlEvent(record.event));
        continue;
      }
      switch (record.kind) {
        case 'row':
          fold.putRow(
            this.tableName(record.name),
            record.key,
            this.columnList(record.columns),
            record.values,
          );
          break;
        case 'event':
          fold.applyAdmitted(record.event);
          break;
        case 'move-out':
          fold.moveOut(this.tableName(record.name), record.key);
          break;
        case 'truncate':
          fold.clearTable(this.tableName(record.name));
          break;
      }
      if (canSplit && fold.heldBytes() > this.options.memoryBytes) return undefined;
    }
    return fold;
  }

  /** Writes a folded partition's rows per table (as of T) and adds up its counts. */
  private writeLeaf(fold: Fold, folder: string): number {
    const leaf: Leaf = { rows: new Map(), files: new Map() };
    for (const table of fold.tableNames()) {
      // Rows come out in the table's shape as of T, whatever the partition saw last.
      fold.setShape(this.head.shape(table));
      const activity = fold.activity(table);
      const total = this.activities.get(table);
      if (total) addActivity(total, activity);
      else this.activities.set(table, activity);
      const count = fold.rowCount(table);
      this.rowCounts.set(table, (this.rowCounts.get(table) ?? 0) + count);
      if (count === 0) continue;
      if (leaf.files.size === 0) mkdirSync(folder, { recursive: true });
      const file = join(folder, `${this.registry.table(table)}.copy`);
      const writer = new SpillWriter(file);
      for (const row of fold.rows(table)) writer.writeText(`${formatCopyRow(row)}\n`);
      this.bytesWritten += writer.bytes;
      writer.close();
      leaf.files.set(table, file);
      leaf.rows.set(table, count);
    }
    return this.leaves.push(leaf) - 1;
  }

  /** A table's name by the number of the name (see {@link Registry.names}). */
  private tableName(id: number): string {
    const name = this.registry.names[id];
    if (name === undefined)
      throw new BacktrackError('INTERNAL', `spill record of unknown table ${id}`);
    return name;
  }

  private columnList(id: number): readonly string[] {
    const list = this.registry.columnLists[id];
    if (!list) throw new BacktrackError('INTERNAL', `spill record of unknown column list ${id}`);
    return list;
  }
}

function addActivity(total: TableActivity, more: TableActivity): void {
  total.inserts += more.inserts;
  total.updates += more.updates;
  total.deletes += more.deletes;
  total.truncates += more.truncates;
  total.anomalies += more.anomalies;
}
