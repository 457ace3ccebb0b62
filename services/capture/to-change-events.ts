/**
 * Row changes of pgoutput → change events (pure). Decides the tenant of each row, marks
 * unchanged TOAST and unsent columns explicitly, and splits an UPDATE that moves a row to
 * another tenant into a DELETE for the old tenant and an INSERT for the new one, so each
 * tenant's stream alone rebuilds that tenant.
 */
import { BacktrackError } from '../../shared/errors.js';
import {
  type ChangeEvent,
  type ChangeOp,
  type ColumnValue,
  TENANT_ALL,
  TENANT_GLOBAL,
} from '../../shared/events/index.js';
import type { Lsn } from '../../shared/lsn.js';
import type { PgoutputMessage, Tuple } from '../../shared/pg/index.js';
import { ddlEventPublications } from '../../shared/source/ddl-history.js';

import type { CapturedRelation } from './relation-cache.js';

/** What every event of a transaction shares. */
export interface TransactionContext {
  readonly xid: number;
  readonly commitLsn: Lsn;
  readonly commitTimeUs: bigint;
  readonly origin: string | null;
}

type RowChange = Extract<PgoutputMessage, { tag: 'insert' | 'update' | 'delete' }>;

const NULL: ColumnValue = Object.freeze({ kind: 'null' });
const TOAST: ColumnValue = Object.freeze({ kind: 'unchanged-toast' });
const ABSENT: ColumnValue = Object.freeze({ kind: 'absent' });

function toValues(relation: CapturedRelation, tuple: Tuple, keyOnly: boolean): ColumnValue[] {
  if (tuple.length !== relation.version.columns.length) {
    throw new BacktrackError(
      'PROTOCOL_VIOLATION',
      `${relation.schema}.${relation.table}: row has ${tuple.length} values for ${relation.version.columns.length} columns`,
    );
  }
  return tuple.map((value, i): ColumnValue => {
    // A key-only old row carries placeholders for the other columns: they were not sent.
    if (keyOnly && relation.identityColumns[i] !== true) return ABSENT;
    switch (value.kind) {
      case 'null':
        return NULL;
      case 'unchanged-toast':
        return TOAST;
      case 'text':
        return { kind: 'text', text: value.text };
    }
  });
}

/** The tenant of a row image, or undefined when the image does not say. */
function tenantOf(
  relation: CapturedRelation,
  values: readonly ColumnValue[] | null,
): string | undefined {
  if (relation.tenantIndex < 0) return TENANT_GLOBAL;
  const value = values?.[relation.tenantIndex];
  if (!value) return undefined;
  switch (value.kind) {
    case 'text':
      return value.text;
    case 'null':
      return TENANT_GLOBAL;
    case 'unchanged-toast':
    case 'absent':
      return undefined;
  }
}

/** Fills unchanged-TOAST columns of `after` from `before` (a full old row). */
function filled(after: readonly ColumnValue[], before: readonly ColumnValue[]): ColumnValue[] {
  return after.map((value, i) => (value.kind === 'unchanged-toast' ? (before[i] ?? value) : value));
}

/**
 * The events of one row change. `eventLsn` is the WAL position of its record; `sequence`
 * hands out the next position within the transaction.
 */
export function rowChangeEvents(
  relation: CapturedRelation,
  change: RowChange,
  transaction: TransactionContext,
  eventLsn: Lsn,
  sequence: () => number,
): ChangeEvent[] {
  const event = (
    op: ChangeOp,
    tenant: string,
    before: readonly ColumnValue[] | null,
    after: readonly ColumnValue[] | null,
  ): ChangeEvent => ({
    tenant,
    schema: relation.schema,
    table: relation.table,
    op,
    relation: relation.version,
    before,
    after,
    truncate: null,
    xid: transaction.xid,
    commitLsn: transaction.commitLsn,
    eventLsn,
    commitTimeUs: transaction.commitTimeUs,
    sequence: sequence(),
    origin: transaction.origin,
    claim: null,
  });

  switch (change.tag) {
    case 'insert': {
      const after = toValues(relation, change.newTuple, false);
      return [event('insert', tenantOf(relation, after) ?? TENANT_GLOBAL, null, after)];
    }
    case 'delete': {
      const before = toValues(relation, change.oldTuple, change.oldKind === 'key');
      return [event('delete', tenantOf(relation, before) ?? TENANT_GLOBAL, before, null)];
    }
    case 'update': {
      const after = toValues(relation, change.newTuple, false);
      const before = change.oldTuple
        ? toValues(relation, change.oldTuple, change.oldKind === 'key')
        : null;
      const tenantAfter = tenantOf(relation, after) ?? tenantOf(relation, before) ?? TENANT_GLOBAL;
      const tenantBefore = tenantOf(relation, before) ?? tenantAfter;
      if (before && tenantBefore !== tenantAfter && change.oldKind === 'old') {
        // The row moved between tenants: it leaves one history and enters the other.
        return [
          event('delete', tenantBefore, before, null),
          event('insert', tenantAfter, null, filled(after, before)),
        ];
      }
      return [event('update', tenantAfter, before, after)];
    }
  }
}

/**
 * The event of a table's new column set, for every tenant: pgoutput sends a Relation
 * message before the first change of a table in a session and after DDL, inside the
 * transaction of that change, so the event takes its place in commit order there. It
 * goes to the {@link TENANT_ALL} stream, which every restore reads, so a tenant that did
 * not write to the table since the DDL still reads it with its columns as of T.
 */
export function schemaEvent(
  relation: CapturedRelation,
  transaction: TransactionContext,
  eventLsn: Lsn,
  sequence: () => number,
): ChangeEvent {
  return {
    tenant: TENANT_ALL,
    schema: relation.schema,
    table: relation.table,
    op: 'schema',
    relation: relation.version,
    before: null,
    after: null,
    truncate: null,
    xid: transaction.xid,
    commitLsn: transaction.commitLsn,
    eventLsn,
    commitTimeUs: transaction.commitTimeUs,
    sequence: sequence(),
    origin: transaction.origin,
    claim: null,
  };
}

/**
 * The events of a TRUNCATE: one per relation. A tenant table is emptied for every tenant,
 * so its event goes to the {@link TENANT_ALL} stream (the restore applies it to each
 * tenant); a table without a tenant column belongs to {@link TENANT_GLOBAL}.
 */
export function truncateEvents(
  relations: readonly CapturedRelation[],
  flags: { readonly cascade: boolean; readonly restartIdentity: boolean },
  transaction: TransactionContext,
  eventLsn: Lsn,
  sequence: () => number,
): ChangeEvent[] {
  return relations.map((relation) => ({
    tenant: relation.tenantIndex >= 0 ? TENANT_ALL : TENANT_GLOBAL,
    schema: relation.schema,
    table: relation.table,
    op: 'truncate',
    relation: relation.version,
    before: null,
    after: null,
    truncate: { cascade: flags.cascade, restartIdentity: flags.restartIdentity },
    xid: transaction.xid,
    commitLsn: transaction.commitLsn,
    eventLsn,
    commitTimeUs: transaction.commitTimeUs,
    sequence: sequence(),
    origin: transaction.origin,
    claim: null,
  }));
}

/**
 * The events of a change of the schema history table (`backtrack.source_ddl`): a recorded
 * DDL on a table of `publication` goes to the {@link TENANT_ALL} stream, which every
 * restore reads, in its transaction's place; DDL recorded for other publications (another
 * capture of the same database) and the history's own upkeep (pruning) are left out.
 */
export function ddlHistoryEvents(
  events: readonly ChangeEvent[],
  publication: string,
): ChangeEvent[] {
  return events
    .filter((e) => e.op === 'insert' && ddlEventPublications(e).includes(publication))
    .map((e) => ({ ...e, tenant: TENANT_ALL }));
}
