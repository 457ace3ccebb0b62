/**
 * The change event: one row change (or one truncate) of one committed Postgres
 * transaction, as capture writes it to the transaction log and everything downstream
 * reads it. Values are the Postgres text representation, column by column; NULL,
 * unchanged TOAST and "not sent" are explicit kinds.
 */
import { createHash } from 'node:crypto';

import type { Lsn } from '../lsn.js';

/** Stream of rows that have no tenant value (a table without the tenant column, or NULL). */
export const TENANT_GLOBAL = '_global';
/** Stream of events that concern every tenant of a table (a TRUNCATE of a tenant table). */
export const TENANT_ALL = '_all';

/** One column value of a row image. */
export type ColumnValue =
  | { readonly kind: 'null' }
  | { readonly kind: 'text'; readonly text: string }
  /** The value did not change and the server did not resend it (TOAST): keep the prior one. */
  | { readonly kind: 'unchanged-toast' }
  /** Not sent: an old-row image of a table whose replica identity is not FULL. */
  | { readonly kind: 'absent' };

/** A column of a relation version. */
export interface EventColumn {
  readonly name: string;
  readonly typeOid: number;
  /** `format_type(oid, typmod)`, e.g. `numeric(40,20)` or `app.mood`. */
  readonly typeName: string;
  readonly typeMod: number;
  /** Part of the table's primary key. */
  readonly primaryKey: boolean;
  /**
   * The value of rows that predate the column (added with a constant DEFAULT, which
   * Postgres stores as the column's missing value instead of rewriting rows); null when
   * such rows read NULL (also when absent). No event tells it otherwise: rows untouched
   * since the ADD COLUMN carry it.
   */
  readonly missing?: string | null;
}

/**
 * The column set of a table as of an event. `version` is a digest of the columns, so it
 * changes when DDL adds, drops or retypes a column, and stays the same across restarts.
 */
export interface RelationVersion {
  readonly oid: number;
  readonly version: string;
  readonly columns: readonly EventColumn[];
}

/**
 * The version of a table's column set: a digest of the table name and its columns (name,
 * type, modifier, primary key), so the same DDL state always gets the same version.
 */
export function relationVersionOf(
  schema: string,
  table: string,
  columns: readonly EventColumn[],
): string {
  const canonical = JSON.stringify([
    schema,
    table,
    columns.map((c) => [c.name, c.typeOid, c.typeMod, c.primaryKey, c.missing ?? null]),
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/**
 * The kinds of change. `schema` changes no row: it carries a table's new column set
 * (`relation`) to every tenant, in the {@link TENANT_ALL} stream, at the first change of
 * the table capture sees after DDL, so a tenant that did not write since still reads the
 * table as of T (a column added with a DEFAULT, with its missing value; a dropped column).
 */
export const CHANGE_OPS = ['insert', 'update', 'delete', 'truncate', 'schema'] as const;
export type ChangeOp = (typeof CHANGE_OPS)[number];

/** Where a row image lives when it was too large for a Kafka record (claim check). */
export interface ClaimCheck {
  /** Object key, relative to the store's prefix. */
  readonly key: string;
  /** Hex SHA-256 of the object. */
  readonly sha256: string;
  readonly size: number;
}

/** One change of one committed transaction. */
export interface ChangeEvent {
  /** Tenant id, or {@link TENANT_GLOBAL} / {@link TENANT_ALL}. */
  readonly tenant: string;
  readonly schema: string;
  readonly table: string;
  readonly op: ChangeOp;
  readonly relation: RelationVersion;
  /** Row before the change (update, delete), aligned with `relation.columns`. */
  readonly before: readonly ColumnValue[] | null;
  /** Row after the change (insert, update), aligned with `relation.columns`. */
  readonly after: readonly ColumnValue[] | null;
  /** Set for truncates. */
  readonly truncate: { readonly cascade: boolean; readonly restartIdentity: boolean } | null;
  /** 32-bit transaction id as pgoutput sends it. */
  readonly xid: number;
  /** LSN of the transaction's commit record: the order of transactions. */
  readonly commitLsn: Lsn;
  /** LSN of this change's WAL record. */
  readonly eventLsn: Lsn;
  /** Commit time, microseconds since the Unix epoch. */
  readonly commitTimeUs: bigint;
  /** Position of this event within its transaction, from 0. */
  readonly sequence: number;
  /** Replication origin, or a Backtrack tag (e.g. `backtrack-restore:<id>`); null when none. */
  readonly origin: string | null;
  /** Set when the row images were stored in object storage instead (before/after null). */
  readonly claim: ClaimCheck | null;
}

/** The position of an event in the log: (commit LSN, sequence). Unique per event. */
export interface EventPosition {
  readonly commitLsn: Lsn;
  readonly sequence: number;
}

/** Orders events by commit, then by their place in the transaction. */
export function compareEventPosition(a: EventPosition, b: EventPosition): number {
  if (a.commitLsn !== b.commitLsn) return a.commitLsn < b.commitLsn ? -1 : 1;
  return a.sequence - b.sequence;
}
