/**
 * DR tests, never simulated. Each level adds to the one before:
 *   - basic: verify every stored object of the tenant (present, SHA-256 and size as recorded,
 *     decryptable, decodable, counts as recorded) and the coverage of its archive; each bad
 *     object is an issue that names it;
 *   - full: read the tenant's live rows in a REPEATABLE READ transaction on the source and
 *     take the instant T from it (clock_timestamp() of its first statement), restore the
 *     tenant to T into a scratch schema through the restore engine (the measured RTO is the
 *     time that restore took), then compare per table the row count and an
 *     order-independent digest (sum of 60-bit prefixes of md5 of each row's text over the
 *     restored columns) of the scratch rows with the live rows as that transaction sees them;
 *   - deep: full, plus every foreign key of the live tables checked on the scratch copy
 *     (orphans are issues), plus an earlier instant restored twice through different base
 *     snapshots: a data snapshot S other than the oldest is picked at random, the tenant is
 *     restored at S's instant (from S alone) and 1 µs before it (from an older snapshot and
 *     the log replayed up to S), and the two are compared table by table. Only a
 *     transaction committed inside that microsecond may differ between them.
 * Scratch schemas are dropped whatever happens. A write of the tenant committing at the very
 * instant T can fall on either side of it, so a full test should run while the tenant is
 * quiet (its report says which tables differ).
 */
import { randomBytes } from 'node:crypto';

import { listSnapshots } from '../../shared/catalog/base-snapshots.js';
import { findDrPlan } from '../../shared/catalog/dr-plans.js';
import {
  type DrTestType,
  finishDrTest,
  startDrTest,
  type ValidationLevel,
} from '../../shared/catalog/dr-tests.js';
import type { Clock } from '../../shared/clock.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import { type PgPool, type Queryable, quoteIdent, quoteQualified } from '../../shared/pg/index.js';

import type { EngineProgress, EngineRestoreSummary, Engines } from './engines.js';

/** What a DR test needs. */
export interface DrTestDeps {
  readonly catalog: PgPool;
  readonly source: PgPool;
  readonly engines: Engines;
  readonly tenantColumn: string;
  readonly log: Logger;
  readonly clock: Clock;
}

/** A DR test to run (the job's parameters). */
export interface DrTestRun {
  readonly id: string;
  readonly tenant: string;
  readonly drPlanId: string | undefined;
  readonly backupId: string | undefined;
  readonly testName: string;
  readonly testType: DrTestType;
  readonly validationLevel: ValidationLevel;
  readonly createdBy: string;
  readonly onProgress: (step: string, progress?: EngineProgress) => void;
}

/** How it went. */
export interface DrTestResult {
  readonly passed: boolean;
  readonly validationsPassed: number;
  readonly issues: readonly string[];
  readonly measuredRtoMs: number | null;
  readonly planRtoMinutes: number | null;
  readonly rtoMet: boolean | null;
  readonly report: Record<string, unknown>;
}

/** Count and digest of one table's rows of the tenant. */
interface TableDigest {
  readonly rows: string;
  readonly digest: string;
}

/** Collects validations and issues. */
class Findings {
  passed = 0;
  readonly issues: string[] = [];
  readonly report: Record<string, unknown> = {};
  ok(): void {
    this.passed += 1;
  }
  issue(text: string): void {
    this.issues.push(text);
  }
}

function split(qualified: string): [string, string] {
  const dot = qualified.indexOf('.');
  return dot < 0 ? ['public', qualified] : [qualified.slice(0, dot), qualified.slice(dot + 1)];
}

/** Count and order-independent digest of `table`'s rows (of `tenant`) over `columns`. */
async function digest(
  db: Queryable,
  table: string,
  columns: readonly string[],
  tenantColumn: string,
  tenant: string,
): Promise<TableDigest> {
  const tuple = columns.length === 0 ? 'ROW()' : `ROW(${columns.map(quoteIdent).join(', ')})`;
  const result = await db.query(
    `SELECT count(*)::text AS rows,
            coalesce(sum(('x' || substr(md5(${tuple}::text), 1, 15))::bit(60)::bigint::numeric), 0)::text AS digest
       FROM ${table} WHERE ${quoteIdent(tenantColumn)} = $1`,
    [tenant],
  );
  const row = result.rows[0];
  const text = (value: unknown): string => (typeof value === 'string' ? value : '0');
  return { rows: text(row?.rows), digest: text(row?.digest) };
}

/** A scratch schema name nobody uses. */
function scratchName(kind: string): string {
  return `bt_drtest_${kind}_${randomBytes(5).toString('hex')}`;
}

async function dropScratch(deps: DrTestDeps, schema: string): Promise<void> {
  try {
    await deps.source.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  } catch (e) {
    deps.log.error({ err: e, schema }, 'could not drop a DR-test scratch schema; drop it by hand');
  }
}

/** µs since the epoch → ISO-8601 with microseconds, UTC. */
function isoMicros(us: bigint): string {
  const ms = us / 1000n;
  const base = new Date(Number(ms)).toISOString().slice(0, 19);
  return `${base}.${(((us % 1_000_000n) + 1_000_000n) % 1_000_000n).toString().padStart(6, '0')}Z`;
}

/** basic: every stored object of the tenant and the coverage of its archive. */
async function verifyObjects(deps: DrTestDeps, run: DrTestRun, f: Findings): Promise<void> {
  run.onProgress('verify objects');
  const report = await deps.engines.verify(run.tenant);
  for (const o of report.objects) {
    if (o.status === 'ok') f.ok();
    else f.issue(`${o.kind} ${o.key} is ${o.status}: ${o.problems.join('; ')}`);
  }
  for (const g of report.gaps)
    f.issue(`gap in the archive of ${g.topic} partition ${g.partition}: offsets ${g.from}–${g.to}`);
  f.report.objectsVerified = report.objects.length;
}

/** Restores into `schema` and returns the summary and how long it took, or records why it failed. */
async function restoreInto(
  deps: DrTestDeps,
  run: DrTestRun,
  f: Findings,
  target: string,
  schema: string,
): Promise<{ summary: EngineRestoreSummary; ms: number } | undefined> {
  const started = deps.clock.nowMs();
  try {
    const summary = await deps.engines.restore({
      tenant: run.tenant,
      target,
      mode: { kind: 'schema', schema },
      dryRun: false,
      actor: `dr-test:${run.id}`,
      onProgress: (p) => run.onProgress(`restore to ${target}`, p),
    });
    return { summary, ms: deps.clock.nowMs() - started };
  } catch (e) {
    f.issue(`the restore to ${target} failed: ${describeError(e)}`);
    return undefined;
  }
}

/** Compares two sets of digests table by table. */
function compare(
  f: Findings,
  what: string,
  expected: ReadonlyMap<string, TableDigest>,
  actual: ReadonlyMap<string, TableDigest>,
): void {
  for (const [table, want] of expected) {
    const got = actual.get(table);
    if (!got) f.issue(`${what}: table ${table} is missing`);
    else if (got.rows !== want.rows)
      f.issue(`${what}: table ${table} has ${got.rows} rows, expected ${want.rows}`);
    else if (got.digest !== want.digest)
      f.issue(`${what}: table ${table} has the right row count (${got.rows}) but other rows`);
    else f.ok();
  }
}

/** full: restore at T (taken from a REPEATABLE READ read of the live rows) and compare. */
async function restoreAndCompare(
  deps: DrTestDeps,
  run: DrTestRun,
  f: Findings,
  schema: string,
): Promise<number | null> {
  const live = await deps.source.connect();
  let broken = false;
  let restoreMs: number | null = null;
  try {
    await live.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // The transaction's snapshot is taken by this first statement: T is read with it.
    const at = await live.query(
      `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`,
    );
    const target = String(at.rows[0]?.t);
    f.report.instant = target;
    const restored = await restoreInto(deps, run, f, target, schema);
    if (restored) {
      restoreMs = restored.ms;
      run.onProgress('compare with the live rows');
      const expected = new Map<string, TableDigest>();
      const actual = new Map<string, TableDigest>();
      for (const t of restored.summary.restored) {
        const [sourceSchema, name] = split(t.table);
        expected.set(
          t.table,
          await digest(
            live,
            quoteQualified(sourceSchema, name),
            t.columns,
            deps.tenantColumn,
            run.tenant,
          ),
        );
        actual.set(
          t.table,
          await digest(
            deps.source,
            quoteQualified(schema, name),
            t.columns,
            deps.tenantColumn,
            run.tenant,
          ),
        );
      }
      compare(f, `restore to ${target} vs the live rows`, expected, actual);
      f.report.tablesCompared = expected.size;
      f.report.rowsRestored = restored.summary.restored.reduce((n, t) => n + t.loaded.rows, 0);
    }
    await live.query('COMMIT');
  } catch (e) {
    broken = true;
    throw e;
  } finally {
    if (broken) await live.query('ROLLBACK').catch(() => undefined);
    live.release(broken);
  }
  return restoreMs;
}

/** deep: the live foreign keys among the restored tables, checked on the scratch copy. */
async function checkForeignKeys(deps: DrTestDeps, f: Findings, schema: string): Promise<void> {
  const fks = await deps.source.query(
    `SELECT c.conname AS name, cn.nspname AS child_schema, ct.relname AS child, pn.nspname AS parent_schema,
            pt.relname AS parent,
            array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS child_columns,
            array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                    JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) AS parent_columns
       FROM pg_constraint c
       JOIN pg_class ct ON ct.oid = c.conrelid JOIN pg_namespace cn ON cn.oid = ct.relnamespace
       JOIN pg_class pt ON pt.oid = c.confrelid JOIN pg_namespace pn ON pn.oid = pt.relnamespace
      WHERE c.contype = 'f'
        AND EXISTS (SELECT 1 FROM pg_class s JOIN pg_namespace sn ON sn.oid = s.relnamespace
                     WHERE sn.nspname = $1 AND s.relname = ct.relname)
        AND EXISTS (SELECT 1 FROM pg_class s JOIN pg_namespace sn ON sn.oid = s.relnamespace
                     WHERE sn.nspname = $1 AND s.relname = pt.relname)
        AND cn.nspname <> $1`,
    [schema],
  );
  for (const fk of fks.rows) {
    const childColumns = (fk.child_columns as string[]).map(quoteIdent);
    const parentColumns = (fk.parent_columns as string[]).map(quoteIdent);
    const child = quoteQualified(schema, String(fk.child));
    const parent = quoteQualified(schema, String(fk.parent));
    const orphans = await deps.source.query(
      `SELECT count(*)::int AS n FROM ${child} c
        WHERE ${childColumns.map((col) => `c.${col} IS NOT NULL`).join(' AND ')}
          AND NOT EXISTS (SELECT 1 FROM ${parent} p
                           WHERE ${childColumns.map((col, i) => `p.${parentColumns[i] ?? col} = c.${col}`).join(' AND ')})`,
    );
    const n = Number(orphans.rows[0]?.n ?? 0);
    if (n === 0) f.ok();
    else
      f.issue(
        `foreign key ${String(fk.name)}: ${n} row(s) of ${String(fk.child)} reference no row of ${String(fk.parent)} in the restored copy`,
      );
  }
  f.report.foreignKeysChecked = fks.rows.length;
}

/** deep: an earlier instant restored through two different base snapshots, compared. */
async function twoWayEarlierRestore(
  deps: DrTestDeps,
  run: DrTestRun,
  f: Findings,
  random: () => number,
): Promise<void> {
  const snapshots = (
    await listSnapshots(deps.catalog, {
      tenant: run.tenant,
      status: 'completed',
      kinds: ['full', 'pre_restore'],
    })
  ).filter((s) => s.takenAtUs !== null);
  if (snapshots.length < 2) {
    f.issue(
      'deep validation restores an earlier instant through two base snapshots, and the tenant has fewer than two: take another backup (POST /v1/backups)',
    );
    return;
  }
  const pick = snapshots[1 + Math.floor(random() * (snapshots.length - 1))] ?? snapshots[1];
  const at = pick?.takenAtUs ?? 0n;
  const viaLog = scratchName('log');
  const viaSnapshot = scratchName('snap');
  try {
    const fromOlder = await restoreInto(deps, run, f, isoMicros(at - 1n), viaLog);
    const fromPick = await restoreInto(deps, run, f, isoMicros(at), viaSnapshot);
    if (!fromOlder || !fromPick) return;
    const digests = async (schema: string, summary: EngineRestoreSummary) => {
      const out = new Map<string, TableDigest>();
      for (const t of summary.restored) {
        const [, name] = split(t.table);
        out.set(
          t.table,
          await digest(
            deps.source,
            quoteQualified(schema, name),
            t.columns,
            deps.tenantColumn,
            run.tenant,
          ),
        );
      }
      return out;
    };
    compare(
      f,
      `earlier instant ${isoMicros(at)}: snapshot ${fromPick.summary.snapshot.id} vs snapshot ${fromOlder.summary.snapshot.id} + log`,
      await digests(viaSnapshot, fromPick.summary),
      await digests(viaLog, fromOlder.summary),
    );
    f.report.earlierInstant = isoMicros(at);
  } finally {
    await dropScratch(deps, viaLog);
    await dropScratch(deps, viaSnapshot);
  }
}

/** Runs a DR test and records it in backtrack.dr_tests. */
export async function runDrTest(
  deps: DrTestDeps,
  run: DrTestRun,
  random: () => number = Math.random,
): Promise<DrTestResult> {
  const plan =
    run.drPlanId === undefined
      ? undefined
      : await findDrPlan(deps.catalog, run.tenant, run.drPlanId);
  const planRtoMinutes = plan?.rtoMinutes ?? null;
  await startDrTest(deps.catalog, {
    id: run.id,
    tenant: run.tenant,
    jobId: run.id,
    drPlanId: plan?.id ?? null,
    backupId: run.backupId ?? null,
    testName: run.testName,
    testType: run.testType,
    validationLevel: run.validationLevel,
    planRtoMinutes,
    createdBy: run.createdBy,
  });
  const f = new Findings();
  let measuredRtoMs: number | null = null;
  try {
    await verifyObjects(deps, run, f);
    if (run.validationLevel !== 'basic') {
      const schema = scratchName('full');
      try {
        measuredRtoMs = await restoreAndCompare(deps, run, f, schema);
        if (measuredRtoMs !== null && run.validationLevel === 'deep') {
          await checkForeignKeys(deps, f, schema);
          await twoWayEarlierRestore(deps, run, f, random);
        }
      } finally {
        await dropScratch(deps, schema);
      }
    }
  } catch (e) {
    f.issue(`the DR test could not finish: ${describeError(e)}`);
  }
  const rtoMet =
    measuredRtoMs === null || planRtoMinutes === null
      ? null
      : measuredRtoMs <= planRtoMinutes * 60_000;
  if (rtoMet === false)
    f.issue(
      `the restore took ${(measuredRtoMs ?? 0) / 1000} s, more than the plan's RTO of ${planRtoMinutes} min`,
    );
  const result: DrTestResult = {
    passed: f.issues.length === 0,
    validationsPassed: f.passed,
    issues: f.issues,
    measuredRtoMs,
    planRtoMinutes,
    rtoMet,
    report: f.report,
  };
  await finishDrTest(deps.catalog, run.id, result);
  return result;
}
