/**
 * The plan of a restore of one tenant to instant T:
 *   1. the tenant is known;
 *   2. the log holds every transaction committed at or before T (log-reach.ts);
 *   3. the newest base at or before T: a data snapshot (full or pre_restore) of the tenant,
 *      or a tenant census that found the tenant with no rows (an empty base);
 *   4. the log after it, for the tenant's partition and for `_all` (truncates of every
 *      tenant): archived segments from the snapshot's position, contiguous, then the
 *      Kafka tail not archived yet, still held by Kafka;
 *   5. the tables to restore (all captured, or the subset asked for, validated).
 * A target outside the recoverable window, or a gap in the log before T, is refused with
 * what would work instead.
 */
import { coverageFrom, type OffsetGap } from '../../shared/archive/coverage.js';
import { listRanges } from '../../shared/catalog/archive-ranges.js';
import {
  type BaseSnapshot,
  latestSnapshotAtOrBefore,
  listSnapshots,
} from '../../shared/catalog/base-snapshots.js';
import { listCaptureGaps } from '../../shared/catalog/capture-gaps.js';
import { listSegments, type Segment } from '../../shared/catalog/segments.js';
import { listSnapshotTables, type SnapshotTable } from '../../shared/catalog/snapshot-tables.js';
import {
  censusAsBase,
  censusesWithout,
  latestCensusWithoutAtOrBefore,
} from '../../shared/catalog/tenant-censuses.js';
import { requireTenant } from '../../shared/catalog/tenants.js';
import { BacktrackError } from '../../shared/errors.js';
import { TENANT_ALL } from '../../shared/events/index.js';
import type { PartitionOffsets } from '../../shared/kafka/index.js';
import { formatLsn } from '../../shared/lsn.js';
import type { Queryable } from '../../shared/pg/index.js';

import { tableKey } from './fold.js';
import { ensureLogReaches, type LogReachDeps } from './log-reach.js';
import { formatInstant, type RestoreTarget } from './target.js';

/** One partition of the log to read: archived segments, then a Kafka tail. */
export interface LogStream {
  /** The tenant stream (`_all` for truncates of every tenant). */
  readonly tenant: string;
  readonly topic: string;
  readonly partition: number;
  /** Consumer position the stream starts at. */
  readonly from: bigint;
  /** Archived segments from `from` on, in offset order. */
  readonly segments: readonly Segment[];
  /** Positions [from, to) still only in Kafka; undefined when the archive reaches the end. */
  readonly tail: { readonly from: bigint; readonly to: bigint } | undefined;
}

/** A planned restore. */
export interface RestorePlan {
  readonly tenant: string;
  readonly target: RestoreTarget;
  readonly snapshot: BaseSnapshot;
  /**
   * What the base is: a snapshot of the tenant, or a tenant census that found it with no
   * rows (then `snapshot` stands for an empty snapshot with the census's id and instant).
   */
  readonly base: 'snapshot' | 'census';
  /** The snapshot's tables, limited to the ones restored. */
  readonly snapshotTables: readonly SnapshotTable[];
  /** Qualified names asked for; undefined for every table. */
  readonly only: ReadonlySet<string> | undefined;
  readonly streams: readonly LogStream[];
  /** Things the operator should know (e.g. a table whose parent is left out). */
  readonly warnings: readonly string[];
}

/** What planning needs. */
export interface PlanDeps extends LogReachDeps {
  readonly catalog: Queryable;
  readonly txlogTopic: string;
}

function instantOf(snapshot: BaseSnapshot): string {
  return snapshot.takenAtUs === null ? 'an unknown instant' : formatInstant(snapshot.takenAtUs);
}

/** The base a restore starts from: a snapshot, or a census that saw the tenant with no rows. */
interface Base {
  readonly snapshot: BaseSnapshot;
  /** The census's definitions; undefined for a snapshot (its tables are in the catalog). */
  readonly tables: SnapshotTable[] | undefined;
  readonly kind: 'snapshot' | 'census';
}

function later(a: Base | undefined, b: Base | undefined): Base | undefined {
  if (!a) return b;
  if (!b) return a;
  return (b.snapshot.takenAtUs ?? 0n) > (a.snapshot.takenAtUs ?? 0n) ? b : a;
}

/**
 * The newest base at or before the target: the tenant's newest data snapshot (full or
 * pre_restore), or the newest census in which the tenant had no rows, whichever is later.
 */
async function chooseBase(deps: PlanDeps, tenant: string, target: RestoreTarget): Promise<Base> {
  const own =
    target.kind === 'time'
      ? await latestSnapshotAtOrBefore(deps.catalog, tenant, target.us)
      : (
          await listSnapshots(deps.catalog, {
            tenant,
            status: 'completed',
            kinds: ['full', 'pre_restore'],
          })
        )
          .filter((s) => s.lsn !== null && s.lsn <= target.lsn)
          .at(-1);
  const census =
    target.kind === 'time'
      ? await latestCensusWithoutAtOrBefore(deps.catalog, deps.txlogTopic, tenant, target.us)
      : (await censusesWithout(deps.catalog, deps.txlogTopic, tenant))
          .filter((c) => c.lsn <= target.lsn)
          .at(-1);
  const chosen = later(
    own ? { snapshot: own, tables: undefined, kind: 'snapshot' } : undefined,
    census ? { ...censusAsBase(census, tenant), kind: 'census' } : undefined,
  );
  if (chosen) return chosen;
  const snapshots = await listSnapshots(deps.catalog, {
    tenant,
    status: 'completed',
    kinds: ['full', 'pre_restore'],
  });
  const [firstCensus] = await censusesWithout(deps.catalog, deps.txlogTopic, tenant);
  const startsUs = [snapshots[0]?.takenAtUs, firstCensus?.takenAtUs].filter(
    (us): us is bigint => us !== undefined && us !== null,
  );
  const startUs = startsUs.reduce<bigint | undefined>(
    (min, us) => (min === undefined || us < min ? us : min),
    undefined,
  );
  const start = startUs === undefined ? undefined : formatInstant(startUs);
  throw new BacktrackError(
    'TARGET_OUTSIDE_WINDOW',
    start !== undefined
      ? `${target.text} is before the recoverable window of tenant ${tenant}, which starts at ${start} (its oldest base snapshot, or the oldest tenant census that found it with no rows); restore to an instant at or after it`
      : `tenant ${tenant} has no completed base snapshot and no tenant census found it without rows, so it has no recoverable window yet; take one with \`backtrack snapshot --tenant ${tenant}\` (or \`backtrack snapshot --all\`)`,
    { details: { tenant, target: target.text, windowStart: start ?? null } },
  );
}

function gapMessage(
  stream: string,
  partition: number,
  gap: OffsetGap,
  target: RestoreTarget,
): string {
  const before = gap.after ? ` (after ${gap.after.toISOString()})` : '';
  return `the archive of ${stream} misses offsets ${gap.from}..${gap.to} of partition ${partition}${before}, before ${target.text}: a restore to it cannot be exact; restore to an instant before the gap, or check the archiver (\`backtrack restore-points\` lists gaps)`;
}

/** One partition's archived part from `from`: its segments, once the coverage is checked. */
interface ArchivedStream {
  readonly tenant: string;
  readonly partition: number;
  readonly from: bigint;
  readonly segments: readonly Segment[];
  /** Where the archive of the partition ends (at least `from`). */
  readonly archivedTo: bigint;
}

/** The archived part of one partition's stream from `from`, refusing a gap before the target. */
async function archivedStream(
  deps: PlanDeps,
  tenant: string,
  partition: number,
  from: bigint,
  target: RestoreTarget,
): Promise<ArchivedStream> {
  const ranges = await listRanges(deps.catalog, deps.txlogTopic, partition);
  const coverage = coverageFrom(ranges, from);
  for (const gap of coverage.gaps) {
    // A gap matters only if it may hold events at or before the target: everything after an
    // event committed later than the target committed later too (one partition is in commit order).
    const harmless =
      target.kind === 'time' &&
      gap.after !== null &&
      BigInt(gap.after.getTime()) * 1000n > target.us;
    if (!harmless) {
      throw new BacktrackError('COVERAGE_GAP', gapMessage(tenant, partition, gap, target), {
        details: { tenant, partition, gapFrom: gap.from.toString(), gapTo: gap.to.toString() },
      });
    }
  }
  const segments = (
    await listSegments(deps.catalog, {
      tenant,
      topic: deps.txlogTopic,
      partition,
      endingAfter: from,
    })
  ).filter((s) => s.state === 'active');
  const archivedTo =
    coverage.archivedTo !== undefined && coverage.archivedTo > from ? coverage.archivedTo : from;
  return { tenant, partition, from, segments, archivedTo };
}

/** The whole stream: the archived part, then the Kafka tail up to `offsets.high`. */
function withTail(
  deps: PlanDeps,
  stream: ArchivedStream,
  offsets: readonly PartitionOffsets[],
): LogStream {
  const { tenant, partition, from, segments, archivedTo } = stream;
  const partitionOffsets = offsets.find((p) => p.partition === partition);
  if (!partitionOffsets) {
    throw new BacktrackError(
      'KAFKA_UNAVAILABLE',
      `partition ${partition} of ${deps.txlogTopic} does not exist`,
    );
  }
  const { low, high } = partitionOffsets;
  if (high > archivedTo && low > archivedTo) {
    throw new BacktrackError(
      'COVERAGE_GAP',
      `offsets ${archivedTo}..${low} of partition ${partition} left Kafka (retention) before the archiver stored them: a restore past them cannot be exact; check the archiver and the topic's retention`,
      { details: { tenant, partition } },
    );
  }
  return {
    tenant,
    topic: deps.txlogTopic,
    partition,
    from,
    segments,
    tail: high > archivedTo ? { from: archivedTo, to: high } : undefined,
  };
}

/**
 * Refuses a target that the log may not reach exactly because capture lost WAL between the
 * snapshot and it: commits after the gap's last durable one and before it was found may be
 * missing. A snapshot taken after the gap was found starts clean.
 */
async function refuseAcrossCaptureGaps(
  deps: PlanDeps,
  tenant: string,
  snapshot: BaseSnapshot,
  target: RestoreTarget,
): Promise<void> {
  for (const gap of await listCaptureGaps(deps.catalog, deps.txlogTopic)) {
    const detectedUs = BigInt(gap.detectedAt.getTime()) * 1000n;
    if (snapshot.takenAtUs !== null && snapshot.takenAtUs >= detectedUs) continue;
    const afterUs = BigInt(gap.afterCommitTime.getTime()) * 1000n;
    const reaches = target.kind === 'time' ? target.us > afterUs : target.lsn > gap.fromLsn;
    if (!reaches) continue;
    throw new BacktrackError(
      'COVERAGE_GAP',
      `capture lost WAL ${formatLsn(gap.fromLsn)}..${formatLsn(gap.toLsn)} of slot ${gap.slot} (found ${gap.detectedAt.toISOString()}): changes committed after ${gap.afterCommitTime.toISOString()} may be missing, so a restore of tenant ${tenant} to ${target.text} from snapshot ${snapshot.id} cannot be exact; restore to an instant up to ${gap.afterCommitTime.toISOString()}, or take a snapshot and restore to an instant after it`,
      {
        details: {
          tenant,
          slot: gap.slot,
          gapFromLsn: formatLsn(gap.fromLsn),
          gapToLsn: formatLsn(gap.toLsn),
          after: gap.afterCommitTime.toISOString(),
          detectedAt: gap.detectedAt.toISOString(),
        },
      },
    );
  }
}

/** Resolves `--tables` names (qualified or bare) against the snapshot's tables. */
function selectTables(
  requested: readonly string[] | undefined,
  tables: readonly SnapshotTable[],
): Set<string> | undefined {
  if (!requested) return undefined;
  const known = tables.map((t) => tableKey(t.schema, t.table));
  const selected = new Set<string>();
  for (const name of requested) {
    const matches = name.includes('.')
      ? known.filter((k) => k === name)
      : known.filter((k) => k.endsWith(`.${name}`));
    if (matches.length !== 1) {
      throw new BacktrackError(
        'VALIDATION_FAILED',
        matches.length === 0
          ? `unknown table ${JSON.stringify(name)}: not a captured table of this tenant; captured tables are ${known.join(', ')}`
          : `table name ${JSON.stringify(name)} is ambiguous (${matches.join(', ')}); give it as schema.table`,
        { details: { table: name, known } },
      );
    }
    selected.add(matches[0] ?? name);
  }
  return selected;
}

/** What the catalog says of a restore: its base, tables and the archived part of its log. */
interface CatalogPlan {
  readonly base: Base;
  readonly snapshotTables: readonly SnapshotTable[];
  readonly only: ReadonlySet<string> | undefined;
  readonly archived: readonly ArchivedStream[];
  readonly warnings: readonly string[];
}

async function planFromCatalog(
  deps: PlanDeps,
  request: { tenant: string; target: RestoreTarget; tables?: readonly string[] },
): Promise<CatalogPlan> {
  const { tenant, target } = request;
  const base = await chooseBase(deps, tenant, target);
  const snapshot = base.snapshot;
  const { logOffset, truncateOffset } = snapshot;
  if (logOffset === null || truncateOffset === null) {
    throw new BacktrackError(
      'INTEGRITY_FAILED',
      `snapshot ${snapshot.id} has no recorded log position`,
    );
  }
  await refuseAcrossCaptureGaps(deps, tenant, snapshot, target);
  const allTables = base.tables ?? (await listSnapshotTables(deps.catalog, snapshot.id));
  const only = selectTables(request.tables, allTables);
  const snapshotTables = only
    ? allTables.filter((t) => only.has(tableKey(t.schema, t.table)))
    : allTables;

  const warnings: string[] = [];
  if (only) {
    for (const table of snapshotTables) {
      for (const fk of table.definition.foreignKeys) {
        const parent = tableKey(fk.references.schema, fk.references.table);
        if (!only.has(parent)) {
          warnings.push(
            `${tableKey(table.schema, table.table)} references ${parent}, which this restore leaves out: its rows may point to ${parent} rows that differ at ${target.text}`,
          );
        }
      }
    }
  }
  const archived = await Promise.all([
    archivedStream(deps, tenant, snapshot.logPartition, logOffset, target),
    archivedStream(deps, TENANT_ALL, snapshot.truncatePartition, truncateOffset, target),
  ]);
  return { base, snapshotTables, only, archived, warnings };
}

/** Plans the restore of `tenant` to `target` (optionally of some tables only). */
export async function planRestore(
  deps: PlanDeps,
  request: { tenant: string; target: RestoreTarget; tables?: readonly string[] },
): Promise<RestorePlan> {
  const { tenant, target } = request;
  await requireTenant(deps.catalog, tenant);
  // The catalog is read while the log's reach is proven (a Kafka read, or a wait for
  // capture); the reach's refusal comes first, as it is the one to act on.
  const [reached, planned] = await Promise.allSettled([
    ensureLogReaches(deps, target),
    planFromCatalog(deps, request),
  ]);
  if (reached.status === 'rejected') throw reached.reason;
  if (planned.status === 'rejected') throw planned.reason;
  const { base, snapshotTables, only, archived, warnings } = planned.value;
  // Read only now that the log reaches the target: the tail must end after its last event.
  const admin = await deps.kafka.admin();
  let offsets: readonly PartitionOffsets[];
  try {
    offsets = await admin.topicOffsets(deps.txlogTopic);
  } finally {
    await admin.disconnect();
  }
  const streams = archived.map((stream) => withTail(deps, stream, offsets));
  return {
    tenant,
    target,
    snapshot: base.snapshot,
    base: base.kind,
    snapshotTables,
    only,
    streams,
    warnings,
  };
}

/** One line describing where a plan starts and what it reads. */
export function describePlan(plan: RestorePlan): string {
  const segments = plan.streams.reduce((n, s) => n + s.segments.length, 0);
  const tail = plan.streams.reduce((n, s) => n + (s.tail ? Number(s.tail.to - s.tail.from) : 0), 0);
  const base = plan.base === 'census' ? 'tenant census (no rows)' : 'snapshot';
  return `${base} ${plan.snapshot.id} (${instantOf(plan.snapshot)}, LSN ${plan.snapshot.lsn ? formatLsn(plan.snapshot.lsn) : '?'}) + ${segments} segment(s) + ${tail} position(s) of Kafka tail`;
}
