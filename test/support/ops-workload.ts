/**
 * A continuous multi-tenant workload in which every write carries a unique operation id:
 * several clients run small transactions (inserts and updates, some rolled back) and
 * remember which operation ids committed. Tests then check the log holds exactly those,
 * once each, in commit order per tenant.
 */
import { createPgPool, quoteIdent, sqlState } from '../../shared/pg/index.js';

import type { LoggedEvent } from './capture.js';

/** DDL of the table the workload writes. */
export function opsTableSql(): string {
  return `CREATE TABLE ops (id bigint PRIMARY KEY, tenant_id text NOT NULL, op_id bigint NOT NULL, note text)`;
}

/** What the workload did. */
export interface OpsOutcome {
  /** Operation ids whose transaction committed. */
  readonly committed: ReadonlySet<bigint>;
  /** Operation ids whose transaction was rolled back. */
  readonly aborted: ReadonlySet<bigint>;
  readonly transactions: number;
}

/** A running workload. */
export interface OpsWorkload {
  /** Operations committed so far. */
  committedCount(): number;
  /** Stops the clients after their current transaction and reports. */
  stop(): Promise<OpsOutcome>;
}

/** Options of {@link startOpsWorkload}. */
export interface OpsWorkloadOptions {
  readonly clients?: number;
  readonly tenants?: readonly string[];
  /** Share of transactions rolled back. */
  readonly abortRatio?: number;
  /** Pause between a client's transactions (ms); 0 runs flat out. */
  readonly pauseMs?: number;
  /**
   * Share of transactions that insert `bulkRows` rows with 200-byte notes instead (large
   * enough to span several chunks of a Kafka transaction).
   */
  readonly bulkRatio?: number;
  readonly bulkRows?: number;
}

/** Starts the workload on `schema`.ops of the database at `url`. */
export function startOpsWorkload(
  url: string,
  schema: string,
  options: OpsWorkloadOptions = {},
): OpsWorkload {
  const clients = options.clients ?? 4;
  const tenants = options.tenants ?? ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark'];
  const abortRatio = options.abortRatio ?? 0.1;
  const pool = createPgPool(url, { applicationName: 'backtrack-test-workload', max: clients });
  const table = `${quoteIdent(schema)}.ops`;
  const committed = new Set<bigint>();
  const aborted = new Set<bigint>();
  const rowsByTenant = new Map<string, bigint[]>();
  let nextOp = 1n;
  let transactions = 0;
  let running = true;

  const client = async (seed: number): Promise<void> => {
    let state = seed;
    const random = (): number => {
      // xorshift: reproducible per client, no shared global state
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 0x1_0000_0000;
    };
    while (running) {
      const tenant = tenants[Math.floor(random() * tenants.length)] ?? 'acme';
      const rollback = random() < abortRatio;
      const bulk = random() < (options.bulkRatio ?? 0);
      const ops: bigint[] = [];
      const inserted: bigint[] = [];
      await pool
        .transaction(async (session) => {
          if (bulk) {
            const rows = options.bulkRows ?? 500;
            const first = nextOp;
            nextOp += BigInt(rows);
            await session.query(
              `INSERT INTO ${table} SELECT g, $3, g, repeat('b', 200) FROM generate_series($1::bigint, $2::bigint) g`,
              [first.toString(), (first + BigInt(rows) - 1n).toString(), tenant],
            );
            for (let op = first; op < first + BigInt(rows); op++) {
              ops.push(op);
              inserted.push(op);
            }
            if (rollback) throw new RollbackRequested();
            return;
          }
          const writes = 1 + Math.floor(random() * 3);
          for (let w = 0; w < writes; w++) {
            const op = nextOp++;
            ops.push(op);
            const existing = rowsByTenant.get(tenant) ?? [];
            if (existing.length > 0 && random() < 0.3) {
              const id = existing[Math.floor(random() * existing.length)] ?? 0n;
              await session.query(`UPDATE ${table} SET op_id = $1, note = 'u' WHERE id = $2`, [
                op.toString(),
                id.toString(),
              ]);
            } else {
              await session.query(`INSERT INTO ${table} VALUES ($1, $2, $1, 'i')`, [
                op.toString(),
                tenant,
              ]);
              inserted.push(op);
            }
          }
          if (rollback) throw new RollbackRequested();
        })
        .then(
          () => {
            for (const op of ops) committed.add(op);
            rowsByTenant.set(tenant, [...(rowsByTenant.get(tenant) ?? []), ...inserted]);
            transactions += 1;
          },
          (e: unknown) => {
            // Asked for, or a deadlock between two clients' updates: either way rolled back.
            if (!(e instanceof RollbackRequested) && sqlState(e) !== '40P01') throw e;
            for (const op of ops) aborted.add(op);
          },
        );
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  };

  const done = Promise.all(Array.from({ length: clients }, (_, i) => client(0x9e3779b9 ^ (i + 1))));
  done.catch(() => undefined);
  let stopped: Promise<OpsOutcome> | undefined;
  return {
    committedCount: () => committed.size,
    stop: () => {
      running = false;
      stopped ??= done.finally(() => pool.end()).then(() => ({ committed, aborted, transactions }));
      return stopped;
    },
  };
}

class RollbackRequested extends Error {}

/** The operation id an event carries (insert or update), if any. */
export function opOf(logged: LoggedEvent): bigint | undefined {
  const { event } = logged;
  if (event.table !== 'ops' || (event.op !== 'insert' && event.op !== 'update')) return undefined;
  const index = event.relation.columns.findIndex((c) => c.name === 'op_id');
  const value = event.after?.[index];
  return value?.kind === 'text' ? BigInt(value.text) : undefined;
}

/** Problems with the log against the outcome; empty when the log is exactly right. */
export function exactlyOnceProblems(events: readonly LoggedEvent[], outcome: OpsOutcome): string[] {
  const problems: string[] = [];
  const seen = new Map<bigint, number>();
  for (const logged of events) {
    const op = opOf(logged);
    if (op !== undefined) seen.set(op, (seen.get(op) ?? 0) + 1);
  }
  const missing = [...outcome.committed].filter((op) => !seen.has(op));
  const twice = [...seen].filter(([, count]) => count > 1).map(([op]) => op);
  const fromAborted = [...seen.keys()].filter((op) => outcome.aborted.has(op));
  const unknown = [...seen.keys()].filter(
    (op) => !outcome.committed.has(op) && !outcome.aborted.has(op),
  );
  if (missing.length)
    problems.push(
      `${missing.length} committed operations missing, e.g. ${missing.slice(0, 5).join(',')}`,
    );
  if (twice.length)
    problems.push(
      `${twice.length} operations logged more than once, e.g. ${twice.slice(0, 5).join(',')}`,
    );
  if (fromAborted.length)
    problems.push(`${fromAborted.length} operations of aborted transactions logged`);
  if (unknown.length)
    problems.push(`${unknown.length} operations logged that the workload never wrote`);

  // Commit order within each tenant: positions strictly increase along the partition.
  const byTenant = new Map<string, LoggedEvent[]>();
  for (const logged of events)
    byTenant.set(logged.key, [...(byTenant.get(logged.key) ?? []), logged]);
  for (const [tenant, list] of byTenant) {
    list.sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset));
    if (new Set(list.map((e) => e.partition)).size > 1)
      problems.push(`tenant ${tenant} spans partitions`);
    for (let i = 1; i < list.length; i++) {
      const previous = list[i - 1]?.event;
      const current = list[i]?.event;
      if (!previous || !current) continue;
      const ordered =
        previous.commitLsn < current.commitLsn ||
        (previous.commitLsn === current.commitLsn && previous.sequence < current.sequence);
      if (!ordered) {
        problems.push(
          `tenant ${tenant}: event at offset ${list[i]?.offset} is not after the one before it`,
        );
        break;
      }
    }
  }
  return problems;
}
