/**
 * Coverage of the archive (pure). The archiver flushes whole partition ranges: each range
 * [from, to) of consumer positions is recorded once, with a segment for every tenant that
 * had events in it; a tenant without a segment in a range had no events there. So:
 *
 *   the archive covers a tenant from position P  ⇔  the ranges of its partition are
 *   contiguous (each from = the previous to) from the range containing P to the newest.
 *
 * A missing stretch between two ranges is a gap: the events in it are not archived and a
 * restore across it is refused. Gaps are reported, never papered over. Positions at or
 * past the newest range's end are not archived yet; restore reads them from Kafka.
 */

/** A recorded range of one partition: consumer positions [from, to). */
export interface ArchivedRange {
  readonly from: bigint;
  readonly to: bigint;
  /** Commit times of the events in the range (any tenant); null only for an empty range. */
  readonly minCommitTime: Date | null;
  readonly maxCommitTime: Date | null;
}

/** Positions [from, to) of a partition that no range covers. */
export interface OffsetGap {
  readonly from: bigint;
  readonly to: bigint;
  /** Newest commit archived before the gap, and oldest after it (when known). */
  readonly after: Date | null;
  readonly before: Date | null;
}

/** How far the archive reaches from one position. */
export interface CoverageFrom {
  /** True when no position from `position` up to the archive's end is missing. */
  readonly contiguous: boolean;
  /** End of the newest range (exclusive); undefined when nothing is archived. */
  readonly archivedTo: bigint | undefined;
  /** Gaps at or after `position` (including [position, first range) when it starts later). */
  readonly gaps: readonly OffsetGap[];
  /** Newest commit time of the ranges contiguous from `position` up to the first gap (null when none). */
  readonly reachedTime: Date | null;
}

function sorted(ranges: readonly ArchivedRange[]): ArchivedRange[] {
  return [...ranges].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
}

function later(a: Date | null, b: Date | null): Date | null {
  if (a === null) return b;
  if (b === null) return a;
  return a >= b ? a : b;
}

/** Every gap between consecutive ranges, oldest first. */
export function rangeGaps(ranges: readonly ArchivedRange[]): OffsetGap[] {
  const ordered = sorted(ranges);
  const gaps: OffsetGap[] = [];
  for (let i = 1; i < ordered.length; i++) {
    const previous = ordered[i - 1];
    const current = ordered[i];
    if (previous && current && current.from > previous.to) {
      gaps.push({
        from: previous.to,
        to: current.from,
        after: previous.maxCommitTime,
        before: current.minCommitTime,
      });
    }
  }
  return gaps;
}

/**
 * Coverage from `position` to the newest range. Overlapping ranges (which the catalog
 * refuses to record) would count as contiguous here; they cannot arise.
 */
export function coverageFrom(ranges: readonly ArchivedRange[], position: bigint): CoverageFrom {
  const ordered = sorted(ranges);
  const last = ordered.at(-1);
  const first = ordered[0];
  if (!first || !last)
    return { contiguous: true, archivedTo: undefined, gaps: [], reachedTime: null };
  const gaps: OffsetGap[] = [];
  if (position < first.from) {
    gaps.push({ from: position, to: first.from, after: null, before: first.minCommitTime });
  }
  gaps.push(...rangeGaps(ordered).filter((gap) => gap.to > position));
  let reachedTime: Date | null = null;
  let cursor = position;
  for (const range of ordered) {
    if (range.to <= cursor) continue;
    if (range.from > cursor) break;
    reachedTime = later(reachedTime, range.maxCommitTime);
    cursor = range.to;
  }
  return { contiguous: gaps.length === 0, archivedTo: last.to, gaps, reachedTime };
}

/** A completed full snapshot and where the log stood when it was taken. */
export interface SnapshotAnchor {
  readonly id: string;
  readonly takenAt: Date;
  /** Last stable offset of the tenant's partition read before the snapshot began. */
  readonly logOffset: bigint;
  /** The same for the partition of `_all` (truncates of every tenant), when it differs. */
  readonly truncateOffset: bigint | undefined;
}

/** A span of instants a tenant can be restored to from the archive alone. */
export interface RecoverableWindow {
  readonly from: Date;
  readonly to: Date;
  /** The snapshots a restore into this window can start from. */
  readonly snapshotIds: readonly string[];
}

/**
 * Commits that may be missing from the log itself (capture lost WAL): those after `after`,
 * up to `detectedAt`, when capture found the gap and resumed.
 */
export interface LostSpan {
  readonly after: Date;
  readonly detectedAt: Date;
}

/**
 * The windows a tenant can be restored to: from each snapshot's instant to the newest
 * commit archived contiguously after it in the tenant's partition, cut short by a gap in
 * the truncate partition (the truncate partition's own age does not limit the window:
 * an idle partition has simply nothing to add) and by WAL capture lost after the snapshot
 * (only a snapshot taken after such a gap was found opens a window past it). Overlapping
 * windows are merged.
 */
export function recoverableWindows(
  snapshots: readonly SnapshotAnchor[],
  tenantRanges: readonly ArchivedRange[],
  truncateRanges: readonly ArchivedRange[] | undefined,
  lost: readonly LostSpan[] = [],
): RecoverableWindow[] {
  const spans = snapshots.map((snapshot) => {
    // reachedTime stops at the first gap after the snapshot's position.
    let end = later(coverageFrom(tenantRanges, snapshot.logOffset).reachedTime, snapshot.takenAt);
    if (truncateRanges && snapshot.truncateOffset !== undefined) {
      const all = coverageFrom(truncateRanges, snapshot.truncateOffset);
      const firstGap = all.gaps[0];
      if (firstGap) {
        const cut = later(firstGap.after, snapshot.takenAt);
        if (end && cut && cut < end) end = cut;
      }
    }
    for (const span of lost) {
      if (snapshot.takenAt >= span.detectedAt) continue;
      const cut = later(span.after, snapshot.takenAt);
      if (end && cut && cut < end) end = cut;
    }
    return { from: snapshot.takenAt, to: end ?? snapshot.takenAt, id: snapshot.id };
  });
  spans.sort((a, b) => a.from.getTime() - b.from.getTime());
  const windows: { from: Date; to: Date; snapshotIds: string[] }[] = [];
  for (const span of spans) {
    const open = windows.at(-1);
    if (open && span.from <= open.to) {
      if (span.to > open.to) open.to = span.to;
      open.snapshotIds.push(span.id);
    } else {
      windows.push({ from: span.from, to: span.to, snapshotIds: [span.id] });
    }
  }
  return windows;
}
