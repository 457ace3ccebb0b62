/**
 * What capture checks on the source before it streams, and how source errors are told to
 * the operator: each names the setting or command that fixes it.
 */
import { BacktrackError, isBacktrackError, isRetriable } from '../../shared/errors.js';
import { type Lsn, LSN_ZERO, parseLsn } from '../../shared/lsn.js';
import { type Queryable, sqlState } from '../../shared/pg/index.js';

/** The replication slot as the server sees it. */
export interface SlotState {
  readonly confirmedFlushLsn: Lsn;
  readonly active: boolean;
  readonly activePid: number | null;
}

/** Host and port of a connection string, for messages (never the password). */
export function whereIs(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return 'the configured address';
  }
}

/** A slot already streamed by another process. Retriable: that process may be exiting. */
export function slotBusy(slot: string, pid: number | null): BacktrackError {
  return new BacktrackError(
    'SLOT_IN_USE',
    `replication slot ${slot} is already active${pid ? ` (pid ${pid})` : ''}; stop the other capture or set BACKTRACK_CAPTURE_SLOT`,
    { details: { slot, pid } },
  );
}

/**
 * Reads the slot; refuses one that is missing, of another plugin or database, or has lost
 * WAL, with the fix in the message.
 */
export async function inspectSlot(db: Queryable, slot: string): Promise<SlotState> {
  const result = await db.query(
    `SELECT plugin, slot_type, database, database = current_database() AS same_database,
            active, active_pid, confirmed_flush_lsn::text AS confirmed, wal_status
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const row = result.rows[0];
  if (!row) {
    throw new BacktrackError(
      'SOURCE_NOT_READY',
      `replication slot ${slot} does not exist; run \`backtrack setup\` to create it, or set BACKTRACK_CAPTURE_SLOT`,
      { details: { slot } },
    );
  }
  if (row.slot_type !== 'logical' || row.plugin !== 'pgoutput') {
    throw new BacktrackError(
      'SOURCE_NOT_READY',
      `replication slot ${slot} is a ${String(row.slot_type)} slot of plugin ${String(row.plugin)}; Backtrack needs a logical pgoutput slot: set BACKTRACK_CAPTURE_SLOT to another name and run \`backtrack setup\``,
    );
  }
  if (row.same_database !== true) {
    throw new BacktrackError(
      'SOURCE_NOT_READY',
      `replication slot ${slot} belongs to database ${String(row.database)}, not the one in BACKTRACK_SOURCE_URL`,
    );
  }
  if (row.wal_status === 'lost') {
    throw new BacktrackError(
      'SOURCE_NOT_READY',
      `replication slot ${slot} has lost WAL it needed (max_slot_wal_keep_size); changes are missing: recreate the slot with \`backtrack setup\` and take new base snapshots`,
    );
  }
  const activePid = typeof row.active_pid === 'number' ? row.active_pid : null;
  if (row.active === true) throw slotBusy(slot, activePid);
  return {
    confirmedFlushLsn: typeof row.confirmed === 'string' ? parseLsn(row.confirmed) : LSN_ZERO,
    active: false,
    activePid,
  };
}

/** Refuses a missing publication with the command that creates it. */
export async function requirePublication(db: Queryable, publication: string): Promise<void> {
  const result = await db.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
  if (result.rowCount === 0) {
    throw new BacktrackError(
      'SOURCE_NOT_READY',
      `publication ${publication} does not exist; run \`backtrack setup\` to create it, or set BACKTRACK_CAPTURE_PUBLICATION`,
      { details: { publication } },
    );
  }
}

/** SQLSTATEs of a wrong connection string: retrying cannot help. */
const CONNECTION_REFUSALS: ReadonlyMap<string, string> = new Map([
  ['28P01', 'the password was refused'],
  ['28000', 'the server refused the role'],
  ['3D000', 'the database does not exist'],
  ['42501', 'the role lacks a privilege'],
]);

/**
 * Explains an error of the source connection in one line that names the setting. Errors
 * already explained pass through unchanged.
 */
export function explainSourceError(e: unknown, url: string): unknown {
  if (isBacktrackError(e)) return e;
  const where = whereIs(url);
  const state = sqlState(e);
  const reason = e instanceof Error ? e.message : String(e);
  if (state === '55006') {
    const pid = /PID (\d+)/i.exec(reason)?.[1];
    const slot = /slot "([^"]+)"/.exec(reason)?.[1] ?? 'the slot';
    return slotBusy(slot, pid ? Number(pid) : null);
  }
  if (state === '42704' && /publication/i.test(reason)) {
    return new BacktrackError(
      'SOURCE_NOT_READY',
      `${reason}; run \`backtrack setup\` to create it, or set BACKTRACK_CAPTURE_PUBLICATION`,
      { cause: e },
    );
  }
  const refusal = state ? CONNECTION_REFUSALS.get(state) : undefined;
  if (refusal) {
    return new BacktrackError(
      'CONFIG_INVALID',
      `cannot use the source database at ${where}: ${refusal} (${reason}); check BACKTRACK_SOURCE_URL`,
      { cause: e },
    );
  }
  if (isRetriable(e) || /ENOTFOUND|timeout/i.test(reason)) {
    return new BacktrackError(
      'SOURCE_UNAVAILABLE',
      `cannot reach the source database at ${where} (${reason}); check BACKTRACK_SOURCE_URL and that Postgres runs`,
      { cause: e, retriable: true },
    );
  }
  return e;
}
