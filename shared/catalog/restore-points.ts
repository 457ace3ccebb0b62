/**
 * The recoverable window of a tenant, from the catalog alone (no Kafka):
 *   - each completed data snapshot (full or pre_restore) opens a window at its instant, and
 *     so does each tenant census that found the tenant with no rows (an empty base: a
 *     tenant born after the last snapshot is restorable from its first row);
 *   - the window reaches the newest commit archived contiguously after the snapshot's log
 *     offset in the tenant's partition (any tenant's commit: a range proves nothing of this
 *     tenant was missed), and is cut short by a gap there or in the `_all` partition;
 *   - windows that touch are merged; earliest/latest are their bounds.
 * "Latest" is what the archive holds; restores may go further by reading the Kafka tail
 * past the archive's end, which this report does not look at. Every gap is listed.
 */
import {
  type OffsetGap,
  rangeGaps,
  type RecoverableWindow,
  recoverableWindows,
  type SnapshotAnchor,
} from '../archive/coverage.js';
import { TENANT_ALL } from '../events/index.js';
import { partitionForKey } from '../kafka/partitioner.js';
import type { Queryable } from '../pg/index.js';

import { listRanges, type RangeRecord } from './archive-ranges.js';
import { topicPartitions } from './archive-topics.js';
import { listSnapshots } from './base-snapshots.js';
import { type CaptureGapRecord, listCaptureGaps } from './capture-gaps.js';
import { listSegments } from './segments.js';
import { censusesWithout, censusLogPosition } from './tenant-censuses.js';
import { requireTenant } from './tenants.js';

/** A gap, and the partition it is in. */
export interface PartitionGap extends OffsetGap {
  readonly partition: number;
}

/** What a tenant can be restored to. */
export interface RestorePoints {
  readonly tenant: string;
  readonly topic: string;
  /** The tenant's partition, and the partition of `_all`; undefined when neither the archiver nor a snapshot recorded the topic. */
  readonly partition: number | undefined;
  readonly truncatePartition: number | undefined;
  readonly earliest: Date | null;
  readonly latest: Date | null;
  readonly windows: readonly RecoverableWindow[];
  readonly gaps: readonly PartitionGap[];
  /** WAL capture lost (every tenant of the log): no restore is exact across one. */
  readonly captureGaps: readonly CaptureGapRecord[];
  /** End of the archive in the tenant's partition, and the newest commit archived there. */
  readonly archivedTo: bigint | null;
  readonly archivedThrough: Date | null;
  /** Newest commit of the tenant's own archived events. */
  readonly lastTenantEventAt: Date | null;
  readonly snapshots: readonly {
    readonly id: string;
    readonly kind: string;
    readonly takenAt: Date;
    readonly rows: bigint;
  }[];
  /** Tenant censuses that found the tenant with no rows: empty bases, oldest first. */
  readonly censuses: readonly { readonly id: string; readonly takenAt: Date }[];
  readonly segments: number;
}

/**
 * Gaps between the ranges of a partition, and before its first range when the oldest
 * snapshot's log offset precedes it (those events were never archived).
 */
function gapsOf(
  partition: number,
  ranges: readonly RangeRecord[],
  oldestOffset: bigint | undefined,
): PartitionGap[] {
  const gaps: OffsetGap[] = rangeGaps(ranges);
  const first = ranges[0];
  if (first && oldestOffset !== undefined && oldestOffset < first.from) {
    gaps.unshift({ from: oldestOffset, to: first.from, after: null, before: first.minCommitTime });
  }
  return gaps.map((g) => ({ ...g, partition }));
}

/** The restore points of `tenant` on `topic`; TENANT_NOT_FOUND for an unknown tenant. */
export async function restorePoints(
  db: Queryable,
  tenant: string,
  topic: string,
): Promise<RestorePoints> {
  await requireTenant(db, tenant);
  const snapshots = (
    await listSnapshots(db, { tenant, status: 'completed', kinds: ['full', 'pre_restore'] })
  ).filter((s) => s.takenAt !== null && s.logOffset !== null && s.logTopic === topic);
  const partitions = await topicPartitions(db, topic);
  const partition =
    partitions !== undefined ? partitionForKey(tenant, partitions) : snapshots[0]?.logPartition;
  const truncatePartition =
    partitions !== undefined
      ? partitionForKey(TENANT_ALL, partitions)
      : snapshots[0]?.truncatePartition;
  const ranges = partition === undefined ? [] : await listRanges(db, topic, partition);
  const truncateRanges =
    truncatePartition === undefined || truncatePartition === partition
      ? undefined
      : await listRanges(db, topic, truncatePartition);
  // A census recorded with another partition count placed the tenant elsewhere: its
  // offsets do not apply to these ranges (a plan still uses it, with its own partition).
  const censuses = (await censusesWithout(db, topic, tenant)).filter(
    (c) => censusLogPosition(c, tenant).partition === partition,
  );
  const anchors: SnapshotAnchor[] = [
    ...snapshots.map((s) => ({
      id: s.id,
      takenAt: s.takenAt ?? new Date(0),
      logOffset: s.logOffset ?? 0n,
      truncateOffset: s.truncateOffset ?? undefined,
    })),
    ...censuses.map((c) => {
      const position = censusLogPosition(c, tenant);
      return {
        id: c.id,
        takenAt: c.takenAt,
        logOffset: position.offset,
        truncateOffset: position.truncateOffset,
      };
    }),
  ].sort((a, b) => a.takenAt.getTime() - b.takenAt.getTime());
  const captureGaps = await listCaptureGaps(db, topic);
  const windows = recoverableWindows(
    anchors,
    ranges,
    truncateRanges,
    captureGaps.map((g) => ({ after: g.afterCommitTime, detectedAt: g.detectedAt })),
  );
  const oldest = anchors[0];
  const gaps = [
    ...(partition === undefined ? [] : gapsOf(partition, ranges, oldest?.logOffset)),
    ...(truncateRanges && truncatePartition !== undefined
      ? gapsOf(truncatePartition, truncateRanges, oldest?.truncateOffset)
      : []),
  ];
  const segments = await listSegments(db, { tenant, topic });
  const newest = ranges.at(-1);
  return {
    tenant,
    topic,
    partition,
    truncatePartition,
    earliest: windows[0]?.from ?? null,
    latest: windows.reduce<Date | null>(
      (latest, w) => (latest === null || w.to > latest ? w.to : latest),
      null,
    ),
    windows,
    gaps,
    captureGaps,
    archivedTo: newest?.to ?? null,
    archivedThrough: ranges.reduce<Date | null>(
      (t, r) =>
        r.maxCommitTime !== null && (t === null || r.maxCommitTime > t) ? r.maxCommitTime : t,
      null,
    ),
    lastTenantEventAt: segments.reduce<Date | null>(
      (t, s) => (t === null || s.maxCommitTime > t ? s.maxCommitTime : t),
      null,
    ),
    snapshots: snapshots.map((s) => ({
      id: s.id,
      kind: s.kind,
      takenAt: s.takenAt ?? new Date(0),
      rows: s.rowCount,
    })),
    censuses: censuses.map((c) => ({ id: c.id, takenAt: c.takenAt })),
    segments: segments.length,
  };
}
