/**
 * `backtrack.tenant_censuses`: which tenants had rows at one instant. A tenant absent from a
 * census had no rows in any captured table at `takenAt`, so its state there is empty and a
 * restore of it may start there: the census stands in for a base snapshot of no rows, with
 * the census's table definitions and its log positions (the one of the tenant's partition,
 * and of `_all`). This is what makes a tenant born after the last snapshot restorable from
 * its first row.
 */
import { z } from 'zod';

import type { XidSnapshot } from '../archive/alignment.js';
import { TENANT_ALL } from '../events/index.js';
import { partitionForKey } from '../kafka/partitioner.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { Queryable } from '../pg/index.js';
import { type TableDefinition, tableDefinitionSchema } from '../source/table-definition.js';

import type { BaseSnapshot } from './base-snapshots.js';
import { int4, int8, lsn, parseRows, timestamp, xid8Array } from './columns.js';
import type { SnapshotTable } from './snapshot-tables.js';

/** A captured table as a census saw it. */
export interface CensusTable {
  readonly schema: string;
  readonly table: string;
  readonly position: number;
  readonly definition: TableDefinition;
}

/** A recorded census. */
export interface TenantCensus {
  readonly id: string;
  readonly logTopic: string;
  /** Last stable offset of each partition (index = partition), read before the census began. */
  readonly partitionOffsets: readonly bigint[];
  readonly xids: XidSnapshot;
  readonly lsn: Lsn;
  readonly takenAt: Date;
  /** The same, exact: microseconds since the Unix epoch. */
  readonly takenAtUs: bigint;
  /** Tenants with at least one row, sorted. */
  readonly tenants: readonly string[];
  readonly tables: readonly CensusTable[];
  readonly createdBy: string;
}

/** A census to record. */
export interface NewTenantCensus {
  readonly id: string;
  readonly logTopic: string;
  readonly partitionOffsets: readonly bigint[];
  readonly xids: XidSnapshot;
  readonly lsn: Lsn;
  /** Postgres text of the instant (microseconds kept). */
  readonly takenAt: string;
  readonly tenants: readonly string[];
  readonly tables: readonly CensusTable[];
  readonly createdBy: string;
}

/** Records a census. */
export async function insertCensus(db: Queryable, c: NewTenantCensus): Promise<void> {
  await db.query(
    `INSERT INTO backtrack.tenant_censuses (id, log_topic, partition_offsets, snapshot_xmin,
       snapshot_xmax, snapshot_xip, lsn, taken_at, tenants, tables, created_by)
     VALUES ($1, $2, $3::text[]::bigint[], $4::text::xid8, $5::text::xid8, $6::text[]::xid8[],
       $7::pg_lsn, $8::timestamptz, $9::text[], $10::jsonb, $11)`,
    [
      c.id,
      c.logTopic,
      c.partitionOffsets.map(String),
      c.xids.xmin.toString(),
      c.xids.xmax.toString(),
      c.xids.xip.map(String),
      formatLsn(c.lsn),
      c.takenAt,
      [...c.tenants].sort(),
      JSON.stringify(c.tables),
      c.createdBy,
    ],
  );
}

const COLUMNS = `id::text AS id, log_topic, partition_offsets::text[] AS partition_offsets,
  snapshot_xmin::text AS xmin, snapshot_xmax::text AS xmax, snapshot_xip::text[] AS xip,
  lsn::text AS lsn, taken_at, (extract(epoch FROM taken_at) * 1000000)::bigint AS taken_at_us,
  tenants, tables, created_by`;

const censusRow = z
  .object({
    id: z.string(),
    log_topic: z.string(),
    partition_offsets: z.array(int8),
    xmin: int8,
    xmax: int8,
    xip: xid8Array,
    lsn,
    taken_at: timestamp,
    taken_at_us: int8,
    tenants: z.array(z.string()),
    tables: z.array(
      z.object({
        schema: z.string(),
        table: z.string(),
        position: int4,
        definition: tableDefinitionSchema,
      }),
    ),
    created_by: z.string(),
  })
  .transform((r): TenantCensus => ({
    id: r.id,
    logTopic: r.log_topic,
    partitionOffsets: r.partition_offsets,
    xids: { xmin: r.xmin, xmax: r.xmax, xip: r.xip },
    lsn: r.lsn,
    takenAt: r.taken_at,
    takenAtUs: r.taken_at_us,
    tenants: r.tenants,
    tables: r.tables,
    createdBy: r.created_by,
  }));

/** Censuses of `topic` in which `tenant` had no rows, oldest first. */
export async function censusesWithout(
  db: Queryable,
  topic: string,
  tenant: string,
): Promise<TenantCensus[]> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.tenant_censuses
      WHERE log_topic = $1 AND NOT ($2 = ANY (tenants))
      ORDER BY taken_at`,
    [topic, tenant],
  );
  return parseRows('censusesWithout', censusRow, result.rows);
}

/** The newest census of `topic` at or before `instantUs` in which `tenant` had no rows. */
export async function latestCensusWithoutAtOrBefore(
  db: Queryable,
  topic: string,
  tenant: string,
  instantUs: bigint,
): Promise<TenantCensus | undefined> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM backtrack.tenant_censuses
      WHERE log_topic = $1 AND NOT ($2 = ANY (tenants))
        AND taken_at <= timestamptz 'epoch' + $3::bigint * interval '1 microsecond'
      ORDER BY taken_at DESC LIMIT 1`,
    [topic, tenant, instantUs.toString()],
  );
  return parseRows('latestCensusWithoutAtOrBefore', censusRow, result.rows)[0];
}

/** Where the log of `tenant` (and of `_all`) stood when the census began. */
export function censusLogPosition(
  census: TenantCensus,
  tenant: string,
): { partition: number; offset: bigint; truncatePartition: number; truncateOffset: bigint } {
  const partitions = census.partitionOffsets.length;
  const partition = partitionForKey(tenant, partitions);
  const truncatePartition = partitionForKey(TENANT_ALL, partitions);
  return {
    partition,
    offset: census.partitionOffsets[partition] ?? 0n,
    truncatePartition,
    truncateOffset: census.partitionOffsets[truncatePartition] ?? 0n,
  };
}

/**
 * The census as the base of a restore of `tenant`, which it saw with no rows: a completed
 * snapshot of zero rows, the census's instant, transaction snapshot and log positions.
 * The catalog holds no snapshot of this id; plans and summaries name it as a census.
 */
export function censusAsBase(
  census: TenantCensus,
  tenant: string,
): { snapshot: BaseSnapshot; tables: SnapshotTable[] } {
  const position = censusLogPosition(census, tenant);
  return {
    snapshot: {
      id: census.id,
      tenant,
      kind: 'full',
      status: 'completed',
      xids: census.xids,
      lsn: census.lsn,
      logTopic: census.logTopic,
      logPartition: position.partition,
      logOffset: position.offset,
      truncatePartition: position.truncatePartition,
      truncateOffset: position.truncateOffset,
      takenAt: census.takenAt,
      takenAtUs: census.takenAtUs,
      startedAt: census.takenAt,
      completedAt: census.takenAt,
      expiresAt: null,
      tableCount: census.tables.length,
      rowCount: 0n,
      sizeBytes: 0,
      manifestKey: null,
      manifestSha256: null,
      encrypted: false,
      keyId: null,
      error: null,
      createdBy: census.createdBy,
      label: 'tenant census: no rows',
    },
    tables: census.tables.map((t) => ({
      snapshotId: census.id,
      schema: t.schema,
      table: t.table,
      position: t.position,
      objectKey: null,
      rows: 0n,
      sizeBytes: 0,
      sha256: null,
      definition: t.definition,
    })),
  };
}
