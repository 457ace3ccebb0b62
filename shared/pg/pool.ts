/**
 * The narrow port to Postgres for ordinary sessions: queries with parameters, COPY
 * streams, and transactions. Rows come back as `Record<string, unknown>`; each caller
 * narrows them with a row type per query.
 */
import type { Readable, Writable } from 'node:stream';

import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

import { BacktrackError } from '../errors.js';

import { connectionSettings } from './session-settings.js';

/** A row as the driver returns it, before the caller narrows it. */
export type Row = Readonly<Record<string, unknown>>;

/** The result of a statement. */
export interface QueryResult {
  readonly rows: readonly Row[];
  /** Rows affected (or returned); 0 for statements that report none. */
  readonly rowCount: number;
}

/** Anything that runs a statement: a pool or a session. */
export interface Queryable {
  query(sql: string, params?: readonly unknown[]): Promise<QueryResult>;
}

/** One connection, held until released; COPY and transactions need one. */
export interface PgSession extends Queryable {
  /** Backend process id (`pg_backend_pid()`). */
  readonly processId: number;
  /** `COPY … FROM STDIN`: write rows in text format to the returned stream. */
  copyFrom(sql: string): Writable;
  /** `COPY … TO STDOUT`: read rows in text format from the returned stream. */
  copyTo(sql: string): Readable;
  /** Returns the connection to its pool; `destroy` closes it instead (after an error). */
  release(destroy?: boolean): void;
}

/** A pool of sessions. */
export interface PgPool extends Queryable {
  connect(): Promise<PgSession>;
  /** Runs `work` in one transaction (BEGIN … COMMIT, ROLLBACK on error). */
  transaction<T>(work: (session: PgSession) => Promise<T>, begin?: string): Promise<T>;
  end(): Promise<void>;
}

/** Options of {@link createPgPool}. */
export interface PgPoolOptions {
  /** Shown in `pg_stat_activity.application_name`. */
  applicationName: string;
  max?: number;
  /**
   * When true, every value comes back as the Postgres text representation (no Date, no
   * number): what restore and verification need to compare values byte for byte.
   */
  rawText?: boolean;
  connectionTimeoutMs?: number;
}

const identity = (value: string): string => value;
const RAW_TEXT_TYPES = { getTypeParser: () => identity };

function toResult(result: pg.QueryResult): QueryResult {
  return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
}

/** `pg` sets `processID` from BackendKeyData; its type declarations omit it. */
function backendPid(client: pg.PoolClient): number {
  const pid: unknown = (client as unknown as Record<string, unknown>).processID;
  return typeof pid === 'number' ? pid : -1;
}

function wrapClient(client: pg.PoolClient): PgSession {
  return {
    processId: backendPid(client),
    query: async (sql, params) => toResult(await client.query(sql, params as unknown[])),
    copyFrom: (sql) => client.query(copyFrom(sql)),
    copyTo: (sql) => client.query(copyTo(sql)),
    release: (destroy) => client.release(destroy === true ? true : undefined),
  };
}

/** Creates a pool for `url`. Connecting happens lazily, on the first query. */
export function createPgPool(url: string, options: PgPoolOptions): PgPool {
  const pool = new pg.Pool({
    ...connectionSettings(url),
    application_name: options.applicationName,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    ...(options.rawText ? { types: RAW_TEXT_TYPES } : {}),
  });
  // An idle client that loses its connection emits here; the next query reconnects.
  pool.on('error', () => undefined);

  const connect = async (): Promise<PgSession> => wrapClient(await pool.connect());

  return {
    query: async (sql, params) => toResult(await pool.query(sql, params as unknown[])),
    connect,
    transaction: async (work, begin = 'BEGIN') => {
      const session = await connect();
      let broken = false;
      try {
        await session.query(begin);
        const result = await work(session);
        await session.query('COMMIT');
        return result;
      } catch (e) {
        try {
          await session.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw e;
      } finally {
        session.release(broken);
      }
    },
    end: () => pool.end(),
  };
}

/** Runs `work` on one dedicated connection (not pooled), closed afterwards. */
export async function withPgConnection<T>(
  url: string,
  applicationName: string,
  work: (session: Queryable) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({
    ...connectionSettings(url),
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work({
      query: async (sql, params) => toResult(await client.query(sql, params as unknown[])),
    });
  } finally {
    await client.end();
  }
}

/** Facts of a replication connection (`IDENTIFY_SYSTEM`). */
export interface SystemIdentity {
  readonly systemId: string;
  readonly timeline: number;
  readonly xlogpos: string;
  readonly dbname: string | null;
}

/**
 * Opens a logical replication connection and runs IDENTIFY_SYSTEM: proof that the server
 * accepts replication connections for this role and database.
 */
export async function identifySystem(url: string): Promise<SystemIdentity> {
  // `pg` supports replication connections; its type declarations do not list the option.
  const config: pg.ClientConfig & { replication: 'database' } = {
    ...connectionSettings(url),
    replication: 'database',
    connectionTimeoutMillis: 10_000,
  };
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  await client.connect();
  try {
    const result = await client.query('IDENTIFY_SYSTEM');
    const row: Row | undefined = result.rows[0] as Row | undefined;
    if (!row) throw new BacktrackError('PROTOCOL_VIOLATION', 'IDENTIFY_SYSTEM returned no row');
    const text = (value: unknown): string => (typeof value === 'string' ? value : '');
    return {
      systemId: text(row.systemid),
      timeline: Number(row.timeline),
      xlogpos: text(row.xlogpos),
      dbname: typeof row.dbname === 'string' ? row.dbname : null,
    };
  } finally {
    await client.end();
  }
}

/** The SQLSTATE of a Postgres error, when `e` is one. */
export function sqlState(e: unknown): string | undefined {
  if (e instanceof pg.DatabaseError) return e.code;
  return undefined;
}
