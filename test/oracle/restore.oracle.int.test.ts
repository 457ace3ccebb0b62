/**
 * The oracle: a seeded random multi-tenant workload runs while capture and the archiver
 * run and base snapshots are taken; the true state of every tenant is recorded at many
 * instants; then each (tenant, instant) is restored into a new schema and must equal its
 * truth row for row. The seed is printed; BACKTRACK_ORACLE_SEED re-runs one.
 *
 * Two tenants are born late: after the first `snapshot --all` and after the ADD COLUMN. The
 * run's tenant census did not find them, so every restore of theirs before their own first
 * snapshot (one of them never gets one) starts from the census as an empty base.
 *
 * DDL runs between transactions, each followed at once by a checkpoint (before any tenant
 * writes again, so only the schema history carries it): a table created and added to the
 * publication (the clients then write to it), a column renamed, an ADD COLUMN … DEFAULT, an
 * ALTER COLUMN … TYPE (a rewrite), a DROP COLUMN, the new table renamed, then dropped. Each
 * restore must have the tables and columns of its instant as well as the rows.
 *
 * Every fifth instant is restored a second time with a fold budget of 2 KiB, so the fold
 * spills to disk (and splits partitions again) on the way to the same rows; and one
 * partial restore (`tables`) leaves a parent out and must say so.
 */
import { startArchiver } from '../../services/archiver/index.js';
import { createRestorer } from '../../services/restore/index.js';
import { createSnapshotter } from '../../services/snapshotter/index.js';
import { type Config, requireSection } from '../../shared/config/index.js';
import { quoteIdent } from '../../shared/pg/index.js';
import {
  captureInProcess,
  kafkaConfigFor,
  setupSource,
  sourceConfigFor,
} from '../support/capture.js';
import { describe, expect, test } from '../support/fixtures.js';

import {
  type Checkpoint,
  oracleSchemaSql,
  schemaColumns,
  type TenantState,
  startOracleWorkload,
  tenantState,
} from './workload.js';

const SEED = Number(process.env.BACKTRACK_ORACLE_SEED ?? Math.floor(Math.random() * 1_000_000));
const TENANTS = ['t-alpha', 't-beta', 't-gamma', 't-delta'];
const LATE_TENANTS = ['t-late-1', 't-late-2'];
const ALL_TENANTS = [...TENANTS, ...LATE_TENANTS];
const CHECKPOINTS = 28;

/** DDL of the run, by the checkpoint it comes before; `labels`: where labels go after it. */
const DDL: ReadonlyMap<number, { statements: string[]; labels?: { table: string | undefined } }> =
  new Map([
    [
      4,
      {
        statements: [
          `CREATE TABLE {s}.labels (id int PRIMARY KEY, tenant_id text NOT NULL, label text)`,
          `ALTER TABLE {s}.labels REPLICA IDENTITY FULL`,
          `ALTER PUBLICATION {publication} ADD TABLE {s}.labels`,
        ],
        labels: { table: 'labels' },
      },
    ],
    [8, { statements: [`ALTER TABLE {s}.notes RENAME COLUMN label TO tag`] }],
    // Before any tenant but one writes again: the others' rows read the added column's
    // default only if the DDL reached their restores.
    [14, { statements: [`ALTER TABLE {s}.accounts ADD COLUMN tier text DEFAULT 'basic'`] }],
    [17, { statements: [`ALTER TABLE {s}.documents ALTER COLUMN score TYPE numeric(8,2)`] }],
    [19, { statements: [`ALTER TABLE {s}.accounts DROP COLUMN legacy`] }],
    [21, { statements: [`ALTER TABLE {s}.labels RENAME TO tags`], labels: { table: 'tags' } }],
    [25, { statements: [`DROP TABLE {s}.tags`], labels: { table: undefined } }],
  ]);
/** Restores into schemas: every checkpoint, and one more after each DDL. */
const RESTORES = (CHECKPOINTS + DDL.size) * ALL_TENANTS.length;

function firstDifference(want: readonly string[], got: readonly string[]): string {
  const missing = want.filter((row) => !got.includes(row)).slice(0, 3);
  const extra = got.filter((row) => !want.includes(row)).slice(0, 3);
  return `missing ${JSON.stringify(missing)}; unexpected ${JSON.stringify(extra)}`;
}

describe('the oracle', () => {
  test(
    `${RESTORES} restores into schemas equal the truth, tables, columns and rows (seed ${SEED})`,
    { timeout: 1_500_000 },
    async ({ source, catalog, kafka, s3, config, log, annotate }) => {
      await source.pool.query(oracleSchemaSql(source.schema));
      // Columns for the DDL to work on, which the clients fill by their defaults.
      await source.exec(`
        ALTER TABLE accounts ADD COLUMN legacy text DEFAULT 'legacy';
        ALTER TABLE documents ADD COLUMN score int DEFAULT (random() * 100)::int;
        ALTER TABLE notes ADD COLUMN label text DEFAULT 'l' || (random() * 1000)::int;`);
      await setupSource(source);
      const s3Config = { ...requireSection(config, 's3', 'test'), prefix: s3.store.prefix };
      const kafkaConfig = kafkaConfigFor(kafka, 3);
      const sourceConfig = sourceConfigFor(source);
      const settings: Config = config;

      const capture = await captureInProcess(source, kafka, log, { partitions: 3 });
      const archiver = await startArchiver({
        kafka: kafkaConfig,
        s3: s3Config,
        catalog: { url: catalog.url },
        archiver: {
          ...settings.archiver,
          segmentMaxAgeMs: 1_000,
          metricsPort: 0,
          groupId: `${kafka.topicPrefix}-archiver`,
        },
        encryption: undefined,
        log,
      });
      const snapshotter = await createSnapshotter({
        source: sourceConfig,
        kafka: kafkaConfig,
        s3: s3Config,
        catalog: { url: catalog.url },
        snapshot: settings.snapshot,
        encryption: undefined,
        log,
      });
      const engine = (memoryBytes?: number) =>
        createRestorer({
          source: sourceConfig,
          catalog: { url: catalog.url },
          kafka: kafkaConfig,
          s3: s3Config,
          encryption: undefined,
          log,
          takePreRestoreSnapshot: () =>
            Promise.reject(new Error('the oracle restores into schemas only')),
          memoryBytes,
        });
      const restorer = engine();
      const spilling = engine(2 * 1024);

      const workload = startOracleWorkload({
        url: source.url,
        schema: source.schema,
        tenants: TENANTS,
        lateTenants: LATE_TENANTS,
        seed: SEED,
        clients: 3,
      });
      const checkpoints: Checkpoint[] = [];
      try {
        const until = async (transactions: number) => {
          while (workload.committed() < transactions) await new Promise((r) => setTimeout(r, 20));
        };
        await until(60);
        // Snapshots taken while the clients write: alignment by transaction visibility.
        // The run's census finds the tenants that write so far, not the late ones.
        const outcomes = await snapshotter.takeAll({ kind: 'full', createdBy: 'oracle' });
        expect(outcomes.map((o) => [o.tenant, o.status])).toEqual(
          [...TENANTS].sort().map((t) => [t, 'completed']),
        );
        for (let i = 0; i < CHECKPOINTS; i++) {
          await until(60 + (i + 1) * 25);
          const ddl = DDL.get(i);
          if (ddl) {
            await workload.ddl(
              ddl.statements.map((sql) =>
                sql.replaceAll('{publication}', quoteIdent(source.publication)),
              ),
              ddl.labels,
            );
            // At once, before any tenant wrote again: only the schema history carries it.
            checkpoints.push(await workload.checkpoint());
          }
          if (i === 14) {
            for (const tenant of TENANTS.slice(0, 2))
              await snapshotter.take({ tenant, kind: 'full', createdBy: 'oracle' });
          }
          if (i === Math.floor(CHECKPOINTS / 2) + 2) workload.admitLate();
          if (i === CHECKPOINTS - 5) {
            await snapshotter.take({
              tenant: LATE_TENANTS[0] ?? '',
              kind: 'full',
              createdBy: 'oracle',
            });
          }
          checkpoints.push(await workload.checkpoint());
        }
      } finally {
        await workload.stop();
      }

      const failures: string[] = [];
      let restores = 0;
      let replayedEvents = 0;
      let rowsCompared = 0;
      let largeRows = 0;
      let spilledRestores = 0;
      let censusRestores = 0;
      const session = await source.pool.connect();
      const compare = (label: string, truth: TenantState, restored: TenantState) => {
        const tables = [Object.keys(truth).sort(), Object.keys(restored).sort()];
        if (tables[0]?.join() !== tables[1]?.join())
          failures.push(
            `seed ${SEED}, ${label}: tables ${tables[1]?.join()}, want ${tables[0]?.join()}`,
          );
        for (const table of Object.keys(restored)) {
          const want = truth[table] ?? [];
          const got = restored[table] ?? [];
          if (want.join('\n') !== got.join('\n')) {
            failures.push(
              `seed ${SEED}, ${label}, ${table}: ${want.length} rows expected, ${got.length} restored; ${firstDifference(want, got)}`,
            );
          }
        }
      };
      try {
        for (const checkpoint of checkpoints) {
          for (const [t, tenant] of ALL_TENANTS.entries()) {
            const schema = `o_${kafka.topicPrefix.slice(-6)}_${checkpoint.index}_${t}`;
            const summary = await restorer.restore({
              tenant,
              target: checkpoint.at,
              mode: { kind: 'schema', schema },
              dryRun: false,
              actor: 'oracle',
            });
            restores += 1;
            if (summary.snapshot.kind === 'census') censusRestores += 1;
            replayedEvents += summary.replayed.events;
            const truth = checkpoint.states.get(tenant) ?? {};
            const label = `checkpoint ${checkpoint.index} (${checkpoint.at}), ${tenant}`;
            const restored = await schemaColumns(session, schema);
            if (JSON.stringify(restored) !== JSON.stringify(checkpoint.columns)) {
              failures.push(
                `seed ${SEED}, ${label}: columns ${JSON.stringify(restored)}, want ${JSON.stringify(checkpoint.columns)}`,
              );
            }
            compare(
              label,
              truth,
              await tenantState(session, schema, tenant, Object.keys(restored)),
            );
            for (const table of Object.keys(checkpoint.columns)) {
              const want = truth[table] ?? [];
              rowsCompared += want.length;
              largeRows += want.filter((row) => row.length > 4000).length;
            }
            await session.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);

            if (checkpoint.index % 5 === 0) {
              const spilled = await spilling.restore({
                tenant,
                target: checkpoint.at,
                mode: { kind: 'schema', schema },
                dryRun: false,
                actor: 'oracle',
              });
              // ~150 estimated bytes a row at least: over 20 rows cannot fit in 2 KiB.
              const rows = spilled.tables.reduce((n, t) => n + t.rowsAtTarget, 0);
              if (spilled.spill !== null) spilledRestores += 1;
              else if (rows > 20)
                failures.push(`${label}: ${rows} rows in a 2 KiB fold did not spill`);
              compare(
                `${label}, spilled`,
                truth,
                await tenantState(session, schema, tenant, Object.keys(checkpoint.columns)),
              );
              await session.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
            }
          }
        }

        // A partial restore of documents alone: its parent (accounts) is reported left out.
        const last = checkpoints.at(-1);
        const tenant = TENANTS[0] ?? '';
        if (last) {
          const schema = `o_${kafka.topicPrefix.slice(-6)}_partial`;
          const partial = await restorer.restore({
            tenant,
            target: last.at,
            tables: ['documents'],
            mode: { kind: 'schema', schema },
            dryRun: false,
            actor: 'oracle',
          });
          expect(partial.restored.map((t) => t.table)).toEqual([`${source.schema}.documents`]);
          expect(partial.warnings.join('\n')).toMatch(/documents references .*accounts/);
          compare(
            `partial restore at ${last.at}, ${tenant}`,
            { documents: last.states.get(tenant)?.documents ?? [] },
            await tenantState(session, schema, tenant, ['documents']),
          );
          const tables = await session.query(
            `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`,
            [schema],
          );
          expect(tables.rows.map((r) => (r as { table_name: string }).table_name)).toEqual([
            'documents',
          ]);
          await session.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
        }
      } finally {
        session.release();
        await restorer.close();
        await spilling.close();
        await snapshotter.close();
        await archiver.stop();
        await capture.stop();
      }
      expect(restores).toBe(RESTORES);
      expect(failures, `seed ${SEED}`).toEqual([]);
      // The oracle exercised what it is for: replayed history, large values, the added column.
      expect(replayedEvents).toBeGreaterThan(restores * 5);
      expect(rowsCompared).toBeGreaterThan(restores * 10);
      expect(largeRows).toBeGreaterThan(0);
      expect(spilledRestores).toBeGreaterThan(
        (checkpoints.filter((c) => c.index % 5 === 0).length * ALL_TENANTS.length) / 2,
      );
      // The late tenants lived: rows at the end, restored from the census before their snapshot.
      for (const tenant of LATE_TENANTS) {
        const last = checkpoints.at(-1)?.states.get(tenant) ?? {};
        expect(Object.values(last).flat().length).toBeGreaterThan(0);
      }
      expect(censusRestores).toBeGreaterThan(CHECKPOINTS);
      expect(
        checkpoints
          .at(-1)
          ?.states.get(TENANTS[0] ?? '')
          ?.accounts?.some((row) => row.endsWith('\tbasic')),
      ).toBe(true);
      // The table created mid-run lived: some checkpoint had label rows.
      expect(
        checkpoints.some((c) =>
          [...c.states.values()].some((state) => (state.labels ?? state.tags ?? []).length > 0),
        ),
      ).toBe(true);
      await annotate(
        `seed ${SEED}: ${restores} restores (${censusRestores} from a tenant census; +${spilledRestores} spilled to disk, 1 partial), ${replayedEvents} events replayed, ${rowsCompared} rows compared (${largeRows} TOAST-sized)`,
        'measurement',
      );
    },
  );
});
