/**
 * `backtrack.audit_log`: every mutating API call, append-only (triggers refuse DELETE,
 * TRUNCATE and every UPDATE but one: completing a `pending` entry, once). A call is written
 * ahead as `pending` before its handler runs (`beginAudit`) and completed before its answer
 * leaves (`completeAudit`); a refusal before the handler is appended whole (`appendAudit`).
 * Read page by page with a keyset cursor, or streamed in batches from a server-side cursor
 * for a compliance export of any length.
 */
import { z } from 'zod';

import type { PgPool, Queryable } from '../pg/index.js';

import { int4, int8, parseRows, timestamp } from './columns.js';

/** How a call ended. */
export const AUDIT_OUTCOMES = ['pending', 'success', 'failure', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** One audited call. */
export interface AuditEntry {
  readonly id: bigint;
  readonly at: Date;
  readonly actor: string;
  readonly actorRole: string | null;
  readonly tenant: string | null;
  readonly action: string;
  readonly target: string | null;
  /** The server's id of the call, unique per call. */
  readonly requestId: string;
  /** The X-Request-Id the client sent, if it was a valid one. */
  readonly correlationId: string | null;
  readonly outcome: AuditOutcome;
  readonly statusCode: number;
  readonly errorCode: string | null;
  readonly details: unknown;
}

const entryRow = z
  .object({
    id: int8,
    at: timestamp,
    actor: z.string(),
    actor_role: z.string().nullable(),
    tenant_id: z.string().nullable(),
    action: z.string(),
    target: z.string().nullable(),
    request_id: z.string(),
    correlation_id: z.string().nullable(),
    outcome: z.enum(AUDIT_OUTCOMES),
    status_code: int4,
    error_code: z.string().nullable(),
    details: z.unknown(),
  })
  .transform((r): AuditEntry => ({
    id: r.id,
    at: r.at,
    actor: r.actor,
    actorRole: r.actor_role,
    tenant: r.tenant_id,
    action: r.action,
    target: r.target,
    requestId: r.request_id,
    correlationId: r.correlation_id,
    outcome: r.outcome,
    statusCode: r.status_code,
    errorCode: r.error_code,
    details: r.details ?? null,
  }));

const COLUMNS = `id, at, actor, actor_role, tenant_id, action, target, request_id,
  correlation_id, outcome, status_code, error_code, details`;

/** An entry to append. */
export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at'>;

/** Appends a whole entry; returns its id. */
export async function appendAudit(db: Queryable, e: NewAuditEntry): Promise<bigint> {
  const result = await db.query(
    `INSERT INTO backtrack.audit_log (actor, actor_role, tenant_id, action, target, request_id,
       correlation_id, outcome, status_code, error_code, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
    [
      e.actor,
      e.actorRole,
      e.tenant,
      e.action,
      e.target,
      e.requestId,
      e.correlationId,
      e.outcome,
      e.statusCode,
      e.errorCode,
      jsonOrNull(e.details),
    ],
  );
  return BigInt(String(result.rows[0]?.id));
}

const jsonOrNull = (details: unknown): string | null =>
  details === null || details === undefined ? null : JSON.stringify(details);

/** A call about to run: who, for which tenant, what. */
export type PendingAuditEntry = Omit<NewAuditEntry, 'outcome' | 'statusCode' | 'errorCode'>;

/**
 * Writes `e` ahead as `pending` (status 0) before the call takes effect; returns its id.
 * A call whose entry cannot be written must not run: callers let this throw.
 */
export async function beginAudit(db: Queryable, e: PendingAuditEntry): Promise<bigint> {
  return appendAudit(db, { ...e, outcome: 'pending', statusCode: 0, errorCode: null });
}

/** How a pending call ended. */
export interface AuditCompletion {
  readonly outcome: Exclude<AuditOutcome, 'pending'>;
  readonly statusCode: number;
  readonly errorCode: string | null;
  /** What the call acted on, when the pending entry did not know it yet. */
  readonly target: string | null;
}

/** Completes the pending entry `id`, once; false when it was not pending. */
export async function completeAudit(
  db: Queryable,
  id: bigint,
  c: AuditCompletion,
): Promise<boolean> {
  const result = await db.query(
    `UPDATE backtrack.audit_log
        SET outcome = $2, status_code = $3, error_code = $4, target = coalesce(target, $5)
      WHERE id = $1 AND outcome = 'pending'`,
    [id.toString(), c.outcome, c.statusCode, c.errorCode, c.target],
  );
  return result.rowCount === 1;
}

/** Which entries to read. `tenant` undefined reads every tenant (platform admins only). */
export interface AuditFilter {
  readonly tenant: string | undefined;
  /** Inclusive start and exclusive end of the period. */
  readonly from?: Date;
  readonly to?: Date;
  readonly action?: string;
  readonly actor?: string;
  readonly outcome?: AuditOutcome;
}

function where(f: AuditFilter, first: number): { sql: string; params: unknown[] } {
  const n = (i: number): string => `$${first + i}`;
  return {
    sql: `(${n(0)}::text IS NULL OR tenant_id = ${n(0)})
      AND (${n(1)}::timestamptz IS NULL OR at >= ${n(1)})
      AND (${n(2)}::timestamptz IS NULL OR at < ${n(2)})
      AND (${n(3)}::text IS NULL OR action = ${n(3)})
      AND (${n(4)}::text IS NULL OR actor = ${n(4)})
      AND (${n(5)}::text IS NULL OR outcome = ${n(5)})`,
    params: [
      f.tenant ?? null,
      f.from ?? null,
      f.to ?? null,
      f.action ?? null,
      f.actor ?? null,
      f.outcome ?? null,
    ],
  };
}

/** One page of entries in id order, after the entry `afterId` (keyset pagination). */
export async function queryAudit(
  db: Queryable,
  filter: AuditFilter,
  page: { afterId: bigint | undefined; limit: number },
): Promise<AuditEntry[]> {
  const w = where(filter, 3);
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.audit_log
      WHERE ($1::bigint IS NULL OR id > $1) AND ${w.sql}
      ORDER BY id LIMIT $2`,
    [page.afterId?.toString() ?? null, page.limit, ...w.params],
  );
  return parseRows('queryAudit', entryRow, result.rows);
}

/**
 * Every entry matching `filter`, in id order, read from a server-side cursor `batch` rows at
 * a time inside one REPEATABLE READ transaction (a consistent period, never all in memory).
 */
export async function* streamAudit(
  pool: PgPool,
  filter: AuditFilter,
  batch = 500,
): AsyncGenerator<AuditEntry> {
  const session = await pool.connect();
  let broken = false;
  try {
    await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const w = where(filter, 1);
    await session.query(
      `DECLARE audit_export NO SCROLL CURSOR FOR
         SELECT ${COLUMNS} FROM backtrack.audit_log WHERE ${w.sql} ORDER BY id`,
      w.params,
    );
    for (;;) {
      const result = await session.query(`FETCH ${batch} FROM audit_export`);
      for (const entry of parseRows('streamAudit', entryRow, result.rows)) yield entry;
      if (result.rows.length < batch) break;
    }
    await session.query('COMMIT');
  } catch (e) {
    broken = true;
    throw e;
  } finally {
    // A consumer that stopped early leaves the transaction open: the connection is closed.
    if (!broken) {
      try {
        await session.query('ROLLBACK');
      } catch {
        broken = true;
      }
    }
    session.release(broken);
  }
}
