/**
 * A tenant census: which tenants have rows in the captured tables, at one instant, with
 * the log positions of every partition read before it. The steps mirror a snapshot's:
 *   1. read the last stable offset of every partition of the log — before the census;
 *   2. BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; its first statement fixes and
 *      records pg_current_snapshot(), pg_current_wal_lsn() and the instant;
 *   3. per captured table: its definition and the distinct tenant ids, in that snapshot;
 *   4. COMMIT, and record the census.
 * A tenant absent from it had no rows at that instant (tenant-censuses.ts says how a
 * restore uses that). `snapshot --all` takes one and snapshots the tenants it found.
 */
import { randomUUID } from 'node:crypto';

import {
  type CensusTable,
  insertCensus,
  type TenantCensus,
} from '../../shared/catalog/tenant-censuses.js';
import { BacktrackError, isBacktrackError } from '../../shared/errors.js';
import { quoteIdent, quoteQualified } from '../../shared/pg/index.js';
import type { CapturedTable } from '../../shared/source/captured-tables.js';
import { readTableDefinition } from '../../shared/source/table-definition.js';

import { beginSnapshot, type SnapshotContext } from './take-snapshot.js';
import { RESERVED_TENANTS } from './tenant-discovery.js';

/** Step 1: the last stable offset of every partition, by partition number. */
async function partitionOffsets(ctx: SnapshotContext): Promise<bigint[]> {
  const admin = await ctx.kafka.admin();
  try {
    if (!(await admin.listTopics()).includes(ctx.topic)) {
      throw new BacktrackError(
        'SOURCE_NOT_READY',
        `the transaction log ${ctx.topic} does not exist: start \`backtrack capture\` before taking snapshots, or changes after them would not be recorded (check BACKTRACK_TOPIC_PREFIX)`,
        { details: { topic: ctx.topic } },
      );
    }
    const offsets = await admin.topicOffsets(ctx.topic);
    return Array.from({ length: offsets.length }, (_, p) => {
      const found = offsets.find((o) => o.partition === p);
      if (!found)
        throw new BacktrackError('KAFKA_UNAVAILABLE', `no offsets for ${ctx.topic}[${p}]`);
      return found.high;
    });
  } catch (e) {
    if (isBacktrackError(e)) throw e;
    throw new BacktrackError(
      'KAFKA_UNAVAILABLE',
      `cannot read the offsets of ${ctx.topic} (${(e as Error).message}); check BACKTRACK_KAFKA_BROKERS and that Kafka runs`,
      { cause: e, retriable: true },
    );
  } finally {
    await admin.disconnect();
  }
}

/** Takes and records a census of `tables`. */
export async function takeCensus(
  ctx: SnapshotContext,
  tables: readonly CapturedTable[],
  createdBy: string,
): Promise<TenantCensus> {
  // 1. Before the census: every change it cannot see is at or after these offsets.
  const offsets = await partitionOffsets(ctx);
  const session = await ctx.source.connect();
  let broken = false;
  try {
    // 2.
    const taken = await beginSnapshot(session);
    // 3.
    const tenants = new Set<string>();
    const definitions: CensusTable[] = [];
    const column = quoteIdent(ctx.sourceConfig.tenantColumn);
    for (const [position, table] of tables.entries()) {
      const definition = await readTableDefinition(session, table, ctx.sourceConfig.tenantColumn);
      definitions.push({ schema: table.schema, table: table.table, position, definition });
      const result = await session.query(
        `SELECT DISTINCT ${column}::text AS tenant FROM ${quoteQualified(table.schema, table.table)} WHERE ${column} IS NOT NULL`,
      );
      for (const row of result.rows) {
        const tenant = row.tenant;
        if (typeof tenant === 'string' && tenant.length > 0 && !RESERVED_TENANTS.has(tenant))
          tenants.add(tenant);
      }
    }
    await session.query('COMMIT');
    // 4.
    const census: TenantCensus = {
      id: randomUUID(),
      logTopic: ctx.topic,
      partitionOffsets: offsets,
      xids: taken.xids,
      lsn: taken.lsn,
      takenAt: new Date(Number(taken.takenAtUs / 1000n)),
      takenAtUs: taken.takenAtUs,
      tenants: [...tenants].sort(),
      tables: definitions,
      createdBy,
    };
    await insertCensus(ctx.catalog, { ...census, takenAt: taken.takenAt });
    ctx.log.info(
      { census: census.id, tenants: tenants.size, tables: tables.length, takenAt: taken.takenAt },
      'tenant census recorded',
    );
    return census;
  } catch (e) {
    // Closing the connection rolls the census transaction back.
    broken = true;
    throw e;
  } finally {
    session.release(broken);
  }
}
