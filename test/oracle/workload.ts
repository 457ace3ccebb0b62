/**
 * The oracle's workload: a seeded, concurrent multi-tenant workload over three tables with
 * foreign keys, TOAST-sized values, key updates (cascading), deletes (cascading), truncates,
 * DDL run between transactions (the test says which), a table of labels created while it
 * runs, aborted transactions and now and then a transaction that writes for two tenants. A coordinator quiesces the clients at checkpoints and records the
 * true state of every tenant at that instant.
 */
import {
  createPgPool,
  type PgPool,
  type PgSession,
  quoteIdent,
  sqlState,
} from '../../shared/pg/index.js';

/** A deterministic random source (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const ORACLE_TABLES = ['accounts', 'documents', 'notes'] as const;

/** DDL of the oracle's tables in `schema`. */
export function oracleSchemaSql(schema: string): string {
  const s = quoteIdent(schema);
  return `
    CREATE TABLE ${s}.accounts (id int PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL, plan text);
    CREATE TABLE ${s}.documents (
      id int PRIMARY KEY,
      tenant_id text NOT NULL,
      account_id int REFERENCES ${s}.accounts (id) ON UPDATE CASCADE ON DELETE CASCADE,
      title text,
      body text,
      meta jsonb
    );
    CREATE TABLE ${s}.notes (id bigint PRIMARY KEY, tenant_id text NOT NULL, document_id int, note text);`;
}

/** The true state of one tenant at one instant: per table, its rows as sorted COPY lines. */
export type TenantState = Readonly<Record<string, readonly string[]>>;

/** Tables of a schema and their columns, in order. */
export type SchemaColumns = Readonly<Record<string, readonly string[]>>;

/** The tables of `schema` with their columns (what a restore at an instant must create). */
export async function schemaColumns(session: PgSession, schema: string): Promise<SchemaColumns> {
  const result = await session.query(
    `SELECT c.relname::text AS table, array_agg(a.attname::text ORDER BY a.attnum) AS columns
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
      GROUP BY c.relname ORDER BY c.relname`,
    [schema],
  );
  return Object.fromEntries(
    result.rows.map((r) => {
      const row = r as { table: string; columns: string[] };
      return [row.table, row.columns];
    }),
  );
}

/** One recorded instant. */
export interface Checkpoint {
  readonly index: number;
  /** The tables and their columns at that instant. */
  readonly columns: SchemaColumns;
  /** ISO-8601 with microseconds, UTC: after every commit before it, before every later one. */
  readonly at: string;
  readonly states: ReadonlyMap<string, TenantState>;
}

interface Model {
  accounts: Map<number, string>;
  documents: Map<number, string>;
  notes: Map<number, string>;
}

/** Reads a tenant's rows of every table (or of `tables`), sorted, as COPY text lines. */
export async function tenantState(
  session: PgSession,
  schema: string,
  tenant: string,
  tables: readonly string[] = ORACLE_TABLES,
): Promise<TenantState> {
  const state: Record<string, string[]> = {};
  for (const table of tables) {
    const lines: string[] = [];
    const stream = session.copyTo(
      `COPY (SELECT * FROM ${quoteIdent(schema)}.${quoteIdent(table)} WHERE tenant_id = '${tenant.replace(/'/g, "''")}') TO STDOUT`,
    );
    let carry = '';
    for await (const chunk of stream) {
      carry += (chunk as Buffer).toString('utf8');
      const parts = carry.split('\n');
      carry = parts.pop() ?? '';
      lines.push(...parts);
    }
    if (carry) lines.push(carry);
    state[table] = lines.sort();
  }
  return state;
}

/** Options of the workload. */
export interface WorkloadOptions {
  readonly url: string;
  readonly schema: string;
  readonly tenants: readonly string[];
  /** Tenants that write only after {@link OracleWorkload.admitLate}; recorded at every checkpoint. */
  readonly lateTenants?: readonly string[];
  readonly seed: number;
  readonly clients: number;
}

/** A running workload. */
export interface OracleWorkload {
  /** Pauses the clients after their current transaction, records every tenant, resumes. */
  checkpoint(): Promise<Checkpoint>;
  /**
   * Pauses the clients, runs DDL statements (`{s}` stands for the quoted schema) in one
   * transaction, and resumes them; no row changes with it. `labels` names the table the
   * clients write labels to from then on (undefined: none).
   */
  ddl(
    statements: readonly string[],
    labels?: { readonly table: string | undefined },
  ): Promise<void>;
  /** From now on the late tenants write too (before, they have no rows at all). */
  admitLate(): void;
  /** Transactions committed so far. */
  committed(): number;
  stop(): Promise<{ committed: number; aborted: number }>;
}

/** Starts the clients. */
export function startOracleWorkload(options: WorkloadOptions): OracleWorkload {
  const pool: PgPool = createPgPool(options.url, {
    applicationName: 'backtrack-oracle',
    max: options.clients + 2,
  });
  const s = quoteIdent(options.schema);
  const model: Model = { accounts: new Map(), documents: new Map(), notes: new Map() };
  let nextId = 1;
  let committed = 0;
  let aborted = 0;
  let running = true;
  let pausing: Promise<void> | undefined;
  let resume: (() => void) | undefined;
  const idle = new Set<number>();
  let idleChanged: (() => void) | undefined;
  let checkpoints = 0;
  const late = options.lateTenants ?? [];
  const recorded = [...options.tenants, ...late];
  let writing: readonly string[] = options.tenants;
  /** The table labels go to, created mid-run (and renamed, and dropped). */
  let labels: string | undefined;

  const clientLoop = async (client: number): Promise<void> => {
    const random = seededRandom(options.seed * 31 + client);
    const pick = <T>(items: readonly T[]): T | undefined =>
      items[Math.floor(random() * items.length)];
    const text = (length: number): string => {
      let out = '';
      while (out.length < length) out += Math.floor(random() * 1e16).toString(36);
      return out.slice(0, length);
    };
    while (running) {
      if (pausing) {
        idle.add(client);
        idleChanged?.();
        await pausing;
        idle.delete(client);
        continue;
      }
      const tenant = pick(writing) ?? 'x';
      const second = random() < 0.1 ? pick(writing.filter((t) => t !== tenant)) : undefined;
      const rollback = random() < 0.08;
      const changes: (() => void)[] = [];
      const session = await pool.connect();
      try {
        await session.query('BEGIN');
        for (const who of [tenant, ...(second ? [second] : [])]) {
          const operations = 1 + Math.floor(random() * 3);
          for (let i = 0; i < operations; i++) {
            await operation(session, who, random, pick, text, changes);
          }
        }
        if (rollback) {
          await session.query('ROLLBACK');
          aborted += 1;
        } else {
          await session.query('COMMIT');
          for (const change of changes) change();
          committed += 1;
        }
      } catch (e) {
        await session.query('ROLLBACK').catch(() => undefined);
        // Two clients touching the same rows may deadlock or collide; either way nothing committed.
        if (!['40P01', '23505', '23503', '40001'].includes(sqlState(e) ?? '')) throw e;
        aborted += 1;
      } finally {
        session.release();
      }
    }
  };

  /** One random write of `tenant`; `changes` records what to apply to the model on commit. */
  const operation = async (
    session: PgSession,
    tenant: string,
    random: () => number,
    pick: <T>(items: readonly T[]) => T | undefined,
    text: (length: number) => string,
    changes: (() => void)[],
  ): Promise<void> => {
    const mine = (map: Map<number, string>) =>
      [...map].filter(([, t]) => t === tenant).map(([id]) => id);
    const roll = random();
    const accounts = mine(model.accounts);
    const documents = mine(model.documents);
    if (labels && random() < 0.15) {
      // A table that did not exist when the run began.
      const id = nextId++;
      const table = `${s}.${quoteIdent(labels)}`;
      if (random() < 0.7) {
        await session.query(`INSERT INTO ${table} (id, tenant_id, label) VALUES ($1, $2, $3)`, [
          id,
          tenant,
          `label ${text(5)}`,
        ]);
      } else {
        await session.query(
          `UPDATE ${table} SET label = label || '!' WHERE id = (SELECT max(id) FROM ${table} WHERE tenant_id = $1)`,
          [tenant],
        );
      }
      return;
    }
    if (roll < 0.2 || accounts.length === 0) {
      const id = nextId++;
      await session.query(
        `INSERT INTO ${s}.accounts (id, tenant_id, name, plan) VALUES ($1, $2, $3, $4)`,
        [id, tenant, `acct ${text(8)}`, pick(['free', 'pro', 'team', null])],
      );
      changes.push(() => model.accounts.set(id, tenant));
    } else if (roll < 0.45) {
      const id = nextId++;
      // One document in four carries a TOAST-sized body (random text does not compress).
      const body = random() < 0.25 ? text(4000 + Math.floor(random() * 12000)) : text(40);
      await session.query(`INSERT INTO ${s}.documents VALUES ($1, $2, $3, $4, $5, $6)`, [
        id,
        tenant,
        pick(accounts),
        `doc ${text(6)}`,
        body,
        JSON.stringify({ n: Math.floor(random() * 1000), tags: [text(3)] }),
      ]);
      changes.push(() => model.documents.set(id, tenant));
    } else if (roll < 0.6 && documents.length > 0) {
      // Leaves the body alone: an unchanged TOAST value when it is large.
      await session.query(
        `UPDATE ${s}.documents SET title = $1, meta = meta || '{"edited": true}' WHERE id = $2`,
        [`title ${text(6)}`, pick(documents)],
      );
    } else if (roll < 0.7) {
      const id = nextId++;
      await session.query(`INSERT INTO ${s}.notes VALUES ($1, $2, $3, $4)`, [
        id,
        tenant,
        pick(documents) ?? null,
        `note ${text(12)}`,
      ]);
      changes.push(() => model.notes.set(id, tenant));
    } else if (roll < 0.78) {
      await session.query(`UPDATE ${s}.accounts SET name = $1 WHERE id = $2`, [
        `renamed ${text(5)}`,
        pick(accounts),
      ]);
    } else if (roll < 0.84) {
      // A key update: the documents' account_id follows through ON UPDATE CASCADE.
      const from = pick(accounts);
      const to = nextId++;
      if (from !== undefined) {
        await session.query(`UPDATE ${s}.accounts SET id = $1 WHERE id = $2`, [to, from]);
        changes.push(() => {
          model.accounts.delete(from);
          model.accounts.set(to, tenant);
        });
      }
    } else if (roll < 0.92 && documents.length > 0) {
      const id = pick(documents) ?? 0;
      await session.query(`DELETE FROM ${s}.documents WHERE id = $1`, [id]);
      changes.push(() => model.documents.delete(id));
    } else if (roll < 0.97 && accounts.length > 3) {
      // Cascades to the account's documents.
      const id = pick(accounts) ?? 0;
      await session.query(`DELETE FROM ${s}.accounts WHERE id = $1`, [id]);
      changes.push(() => model.accounts.delete(id));
    } else if (roll < 0.985) {
      await session.query(`DELETE FROM ${s}.notes WHERE tenant_id = $1 AND id % 3 = 0`, [tenant]);
    } else {
      // Empties notes for every tenant.
      await session.query(`TRUNCATE ${s}.notes`);
      changes.push(() => model.notes.clear());
    }
  };

  const clients = Array.from({ length: options.clients }, (_, i) => clientLoop(i));
  const finished = Promise.all(clients);
  finished.catch(() => undefined);

  const quiesce = async (): Promise<() => void> => {
    pausing = new Promise<void>((r) => {
      resume = r;
    });
    while (idle.size < options.clients) {
      await Promise.race([
        new Promise<void>((r) => {
          idleChanged = r;
        }),
        finished,
      ]);
    }
    return () => {
      pausing = undefined;
      resume?.();
    };
  };

  return {
    checkpoint: async () => {
      const release = await quiesce();
      const session = await pool.connect();
      try {
        const at = await session.query(
          `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`,
        );
        const columns = await schemaColumns(session, options.schema);
        const states = new Map<string, TenantState>();
        for (const tenant of recorded)
          states.set(
            tenant,
            await tenantState(session, options.schema, tenant, Object.keys(columns)),
          );
        return { index: checkpoints++, at: String(at.rows[0]?.at), columns, states };
      } finally {
        session.release();
        release();
      }
    },
    ddl: async (statements, next) => {
      const release = await quiesce();
      try {
        await pool.transaction(async (session) => {
          for (const statement of statements) await session.query(statement.replaceAll('{s}', s));
        });
        if (next) labels = next.table;
      } finally {
        release();
      }
    },
    admitLate: () => {
      writing = recorded;
    },
    committed: () => committed,
    stop: async () => {
      running = false;
      pausing = undefined;
      resume?.();
      await finished;
      await pool.end();
      return { committed, aborted };
    },
  };
}
