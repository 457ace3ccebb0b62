/**
 * Which segments compaction merges (pure). Within one tenant and partition, runs of
 * consecutive small segments are merged while their stored size stays within the target;
 * a run never crosses a coverage gap (the merged segment's range would claim positions
 * nobody read) and never includes a segment already large enough.
 */
import type { OffsetGap } from '../../shared/archive/coverage.js';
import type { Segment } from '../../shared/catalog/segments.js';

/** A group of segments to merge into one, in offset order. */
export type MergeGroup = readonly Segment[];

/** Segments at least this fraction of the target are left alone. */
const LARGE_FRACTION = 0.5;

function groupKey(s: Segment): string {
  return `${s.tenant}\0${s.topic}\0${s.partition}`;
}

/** True when a gap lies between the end of `a` and the start of `b`. */
function gapBetween(a: Segment, b: Segment, gaps: readonly OffsetGap[]): boolean {
  return a.rangeTo !== b.rangeFrom && gaps.some((g) => g.from >= a.rangeTo && g.to <= b.rangeFrom);
}

/**
 * Plans merges over active segments (any order, any tenants). `gapsOf` gives the gaps of a
 * partition. Each group has at least two segments and at most `targetBytes` in all.
 */
export function planCompaction(
  segments: readonly Segment[],
  gapsOf: (topic: string, partition: number) => readonly OffsetGap[],
  targetBytes: number,
): MergeGroup[] {
  const byStream = new Map<string, Segment[]>();
  for (const segment of segments) {
    if (segment.state !== 'active') continue;
    const list = byStream.get(groupKey(segment)) ?? [];
    list.push(segment);
    byStream.set(groupKey(segment), list);
  }
  const groups: MergeGroup[] = [];
  for (const list of byStream.values()) {
    list.sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
    const [sample] = list;
    if (!sample) continue;
    const gaps = gapsOf(sample.topic, sample.partition);
    let run: Segment[] = [];
    let runBytes = 0;
    const close = (): void => {
      if (run.length >= 2) groups.push(run);
      run = [];
      runBytes = 0;
    };
    for (const segment of list) {
      const small = segment.sizeBytes < targetBytes * LARGE_FRACTION;
      const previous = run.at(-1);
      const fits =
        small &&
        runBytes + segment.sizeBytes <= targetBytes &&
        (previous === undefined || !gapBetween(previous, segment, gaps));
      if (!fits) close();
      if (!small) continue;
      run.push(segment);
      runBytes += segment.sizeBytes;
    }
    close();
  }
  return groups;
}
