/**
 * What a snapshot stores: each captured table's definition (types, not-null, defaults,
 * generated and identity columns, primary key, unique, check and foreign-key constraints,
 * indexes, owned sequences with their values), the tenant's rows exactly as COPY gives them
 * (a table larger than a multipart part included), row counts and checksums in the catalog,
 * and a manifest that describes it all; kind `schema` stores definitions only; `--all`
 * snapshots every tenant.
 */
import { createHash } from 'node:crypto';

import { keyringFrom } from '../../../shared/archive/encryption.js';
import { decodeManifest } from '../../../shared/archive/snapshot-file.js';
import { listSnapshots, requireSnapshot } from '../../../shared/catalog/base-snapshots.js';
import { listSnapshotTables } from '../../../shared/catalog/snapshot-tables.js';
import { archiveEnvironment } from '../../support/archive.js';
import { captureInProcess, setupSource, spawnBacktrack } from '../../support/capture.js';
import { describe, expect, test } from '../../support/fixtures.js';
import { decodeCopyText, readSnapshotRows, snapshotterFor } from '../../support/snapshot.js';

const SCHEMA = `
  CREATE TABLE customers (
    id serial PRIMARY KEY,
    tenant_id text NOT NULL,
    email text NOT NULL,
    name text DEFAULT 'anonymous',
    score numeric(10, 2) CHECK (score >= 0),
    UNIQUE (tenant_id, email)
  );
  CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id text NOT NULL,
    customer_id integer NOT NULL REFERENCES customers (id),
    quantity integer NOT NULL,
    price numeric(10, 2) NOT NULL,
    total numeric(12, 2) GENERATED ALWAYS AS (quantity * price) STORED,
    placed_at timestamptz NOT NULL DEFAULT now(),
    tags text[]
  );
  CREATE INDEX orders_by_placed ON orders (tenant_id, placed_at);
  CREATE TABLE blobs (id integer PRIMARY KEY, tenant_id text NOT NULL, data text NOT NULL);
`;

describe('snapshot: contents', () => {
  test(
    'definitions, exact rows, counts, checksums and a manifest; schema kind; --all',
    { timeout: 180_000 },
    async ({ source, kafka, catalog, s3, log, config }) => {
      await source.exec(SCHEMA);
      await source.exec(`
      INSERT INTO customers (tenant_id, email, name, score)
        SELECT CASE WHEN g % 2 = 0 THEN 'acme' ELSE 'globex' END, 'c' || g || '@x.test', 'Name ' || g || E' with\\ttab', g
          FROM generate_series(1, 40) g;
      INSERT INTO customers (tenant_id, email, name, score) VALUES ('acme', 'nulls@x.test', NULL, NULL);
      INSERT INTO orders (tenant_id, customer_id, quantity, price, tags)
        SELECT c.tenant_id, c.id, g, 1.25, ARRAY['a', 'b "c"', NULL] FROM customers c, generate_series(1, 3) g;
      INSERT INTO blobs SELECT g, 'acme', md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) FROM generate_series(1, 60000) g;
    `);
      await setupSource(source);
      const capture = await captureInProcess(source, kafka, log);
      const snapshotter = await snapshotterFor({ config, source, kafka, s3, catalog, log });
      try {
        const full = await snapshotter.take({
          tenant: 'acme',
          kind: 'full',
          createdBy: 'test',
          label: 'contents',
        });
        const tables = await listSnapshotTables(catalog.pool, full.id);
        expect(tables.map((t) => t.table)).toEqual(['blobs', 'customers', 'orders']);
        const byName = new Map(tables.map((t) => [t.table, t]));

        // Rows: exactly what COPY gives for the tenant; counts and checksums as recorded.
        for (const table of tables) {
          const columns = table.definition.copyColumns.map((c) => `"${c}"`).join(', ');
          const truth = await source.pool.query(
            `SELECT ${columns} FROM "${source.schema}"."${table.table}" WHERE tenant_id = 'acme'`,
          );
          const rows = await readSnapshotRows(s3.store, table.objectKey ?? '');
          expect(BigInt(rows.length)).toBe(table.rows);
          expect(rows.length).toBe(truth.rowCount);
          const stored = await s3.store.get(table.objectKey ?? '');
          expect(createHash('sha256').update(stored).digest('hex')).toBe(table.sha256);
          expect(stored.length).toBe(table.sizeBytes);
        }
        // The big table went up in several parts: larger than one part.
        expect(byName.get('blobs')?.sizeBytes).toBeGreaterThan(5 * 1024 * 1024);
        const customerRows = await readSnapshotRows(
          s3.store,
          byName.get('customers')?.objectKey ?? '',
        );
        expect(customerRows).toContainEqual([
          expect.any(String),
          'acme',
          'nulls@x.test',
          null,
          null,
        ]);
        expect(customerRows).toContainEqual([
          expect.any(String),
          'acme',
          'c2@x.test',
          'Name 2 with\ttab',
          '2.00',
        ]);
        const orderRows = await readSnapshotRows(s3.store, byName.get('orders')?.objectKey ?? '');
        expect(orderRows[0]?.[6]).toBe('{a,"b \\"c\\"",NULL}');

        // Definitions.
        const customers = byName.get('customers')?.definition;
        const orders = byName.get('orders')?.definition;
        expect(customers?.columns.map((c) => [c.name, c.type, c.notNull, c.default])).toEqual([
          ['id', 'integer', true, expect.stringContaining('nextval(') as unknown],
          ['tenant_id', 'text', true, null],
          ['email', 'text', true, null],
          ['name', 'text', false, "'anonymous'::text"],
          ['score', 'numeric(10,2)', false, null],
        ]);
        expect(customers?.primaryKey?.columns).toEqual(['id']);
        expect(customers?.uniques.map((u) => u.definition)).toEqual(['UNIQUE (tenant_id, email)']);
        expect(customers?.checks.map((c) => c.definition)).toEqual([
          'CHECK ((score >= (0)::numeric))',
        ]);
        expect(customers?.sequences).toEqual([
          expect.objectContaining({
            name: 'customers_id_seq',
            column: 'id',
            dataType: 'integer',
            lastValue: '41',
            isCalled: true,
          }),
        ]);
        expect(orders?.columns.find((c) => c.name === 'total')).toMatchObject({
          generated: '((quantity)::numeric * price)',
        });
        expect(orders?.columns.find((c) => c.name === 'id')).toMatchObject({
          identity: 'always',
          type: 'bigint',
        });
        expect(orders?.copyColumns).not.toContain('total');
        expect(orders?.foreignKeys).toEqual([
          expect.objectContaining({
            columns: ['customer_id'],
            references: { schema: source.schema, table: 'customers' },
            definition: `FOREIGN KEY (customer_id) REFERENCES ${source.schema}.customers(id)`,
          }),
        ]);
        expect(orders?.indexes.map((i) => i.name)).toEqual(['orders_by_placed']);
        expect(orders?.sequences).toEqual([
          expect.objectContaining({ name: 'orders_id_seq', column: 'id', dataType: 'bigint' }),
        ]);

        // The catalog row and the manifest agree.
        const recorded = await requireSnapshot(catalog.pool, full.id);
        expect(recorded).toMatchObject({
          status: 'completed',
          kind: 'full',
          tableCount: 3,
          rowCount: full.rows,
          label: 'contents',
        });
        expect(recorded.xids).toEqual(full.xids);
        const manifest = decodeManifest(
          await s3.store.get(recorded.manifestKey ?? ''),
          keyringFrom(undefined),
          'manifest',
        );
        expect(manifest.tables.map((t) => [t.table, t.rows, t.sha256])).toEqual(
          tables.map((t) => [t.table, t.rows?.toString(), t.sha256]),
        );
        expect(manifest.tables.map((t) => t.definition)).toEqual(tables.map((t) => t.definition));
        expect(manifest.log.offset).toBe(recorded.logOffset?.toString());

        // Kind schema: definitions, no data objects.
        const schemaOnly = await snapshotter.take({
          tenant: 'acme',
          kind: 'schema',
          createdBy: 'test',
        });
        const schemaTables = await listSnapshotTables(catalog.pool, schemaOnly.id);
        expect(schemaTables.map((t) => [t.table, t.objectKey, t.rows])).toEqual([
          ['blobs', null, null],
          ['customers', null, null],
          ['orders', null, null],
        ]);
        expect(schemaTables.map((t) => t.definition)).toEqual(tables.map((t) => t.definition));
        const objects: string[] = [];
        for await (const o of s3.store.list(`tenants/acme/snapshots/${schemaOnly.id}/`))
          objects.push(o.key);
        expect(objects).toEqual([`tenants/acme/snapshots/${schemaOnly.id}/manifest.json`]);
      } finally {
        await snapshotter.close();
        await capture.stop();
      }

      // --all: every tenant of the source, through the command line.
      const all = spawnBacktrack(
        ['snapshot', '--all', '--json'],
        archiveEnvironment(source, { config, kafka, s3, catalog }),
      );
      expect(await all.exited, all.output()).toBe(0);
      const report = JSON.parse(
        all
          .output()
          .split('\n')
          .find((l) => l.startsWith('{"snapshots"')) ?? '{}',
      ) as {
        snapshots: { tenant: string; rows: string }[];
        failed: unknown[];
      };
      expect(report.snapshots.map((s) => s.tenant).sort()).toEqual(['acme', 'globex']);
      expect(report.failed).toEqual([]);
      expect(
        (await listSnapshots(catalog.pool, { tenant: 'globex', status: 'completed' })).length,
      ).toBe(1);
      expect(decodeCopyText('x\\ny\n')).toEqual([['x\ny']]);
    },
  );
});
