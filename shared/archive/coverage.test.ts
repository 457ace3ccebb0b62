import { describe, expect, it } from 'vitest';

import {
  type ArchivedRange,
  coverageFrom,
  rangeGaps,
  recoverableWindows,
  type SnapshotAnchor,
} from './coverage.js';

const t = (minute: number): Date => new Date(Date.UTC(2026, 10, 20, 10, minute));

function range(from: number, to: number, minMinute: number, maxMinute: number): ArchivedRange {
  return {
    from: BigInt(from),
    to: BigInt(to),
    minCommitTime: t(minMinute),
    maxCommitTime: t(maxMinute),
  };
}

// [0,10) [10,25) [25,40) — gap [40,60) — [60,70) [70,90)
const RANGES = [
  range(10, 25, 2, 4),
  range(0, 10, 0, 1),
  range(25, 40, 5, 9),
  range(60, 70, 20, 22),
  range(70, 90, 23, 30),
];

describe('coverage', () => {
  it('finds every gap between ranges', () => {
    expect(rangeGaps(RANGES)).toEqual([{ from: 40n, to: 60n, after: t(9), before: t(20) }]);
    expect(rangeGaps(RANGES.slice(0, 3))).toEqual([]);
  });

  it.each([
    ['inside the first range, before the gap', 3n, false, [40n], t(9)],
    ['at a range boundary, before the gap', 25n, false, [40n], t(9)],
    ['inside the gap', 45n, false, [40n], null],
    ['after the gap', 65n, true, [], t(30)],
    ['at the archive end', 90n, true, [], null],
    ['past the archive end', 120n, true, [], null],
  ])('from a position %s', (_what, position, contiguous, gapStarts, reached) => {
    const coverage = coverageFrom(RANGES, position);
    expect(coverage.contiguous).toBe(contiguous);
    expect(coverage.archivedTo).toBe(90n);
    expect(coverage.gaps.map((g) => g.from)).toEqual(gapStarts);
    expect(coverage.reachedTime).toEqual(reached);
  });

  it('reports the stretch before the first range as a gap', () => {
    const coverage = coverageFrom([range(50, 60, 1, 2)], 20n);
    expect(coverage.contiguous).toBe(false);
    expect(coverage.gaps).toEqual([{ from: 20n, to: 50n, after: null, before: t(1) }]);
  });

  it('is trivially contiguous with nothing archived', () => {
    expect(coverageFrom([], 5n)).toEqual({
      contiguous: true,
      archivedTo: undefined,
      gaps: [],
      reachedTime: null,
    });
  });
});

describe('recoverable windows', () => {
  const snap = (id: string, minute: number, offset: number, truncate?: number): SnapshotAnchor => ({
    id,
    takenAt: t(minute),
    logOffset: BigInt(offset),
    truncateOffset: truncate === undefined ? undefined : BigInt(truncate),
  });

  it('run from each snapshot to the newest contiguous commit, split by gaps', () => {
    const windows = recoverableWindows(
      [snap('a', 1, 5), snap('b', 3, 12), snap('c', 21, 62)],
      RANGES,
      undefined,
    );
    expect(windows).toEqual([
      { from: t(1), to: t(9), snapshotIds: ['a', 'b'] },
      { from: t(21), to: t(30), snapshotIds: ['c'] },
    ]);
  });

  it('give a snapshot past the archive end just its own instant', () => {
    expect(recoverableWindows([snap('late', 40, 95)], RANGES, undefined)).toEqual([
      { from: t(40), to: t(40), snapshotIds: ['late'] },
    ]);
  });

  it('are cut by a gap in the truncate partition, not by its age', () => {
    const idle = [range(0, 3, 0, 0)];
    expect(recoverableWindows([snap('c', 21, 62, 3)], RANGES, idle)).toEqual([
      { from: t(21), to: t(30), snapshotIds: ['c'] },
    ]);
    const gapped = [range(0, 3, 0, 0), range(3, 5, 21, 24), range(9, 12, 28, 28)];
    expect(recoverableWindows([snap('c', 21, 62, 3)], RANGES, gapped)).toEqual([
      { from: t(21), to: t(24), snapshotIds: ['c'] },
    ]);
  });

  it('are cut where capture lost WAL, and reopen only from a snapshot taken after it was found', () => {
    // Capture lost what committed after minute 24; the gap was found at minute 26.
    const lost = [{ after: t(24), detectedAt: t(26) }];
    expect(
      recoverableWindows(
        [snap('c', 21, 62), snap('d', 25, 75), snap('e', 27, 80)],
        RANGES,
        undefined,
        lost,
      ),
    ).toEqual([
      { from: t(21), to: t(24), snapshotIds: ['c'] },
      // Taken inside the lost span: its own instant is exact, nothing after it is.
      { from: t(25), to: t(25), snapshotIds: ['d'] },
      { from: t(27), to: t(30), snapshotIds: ['e'] },
    ]);
  });

  it('are empty without snapshots', () => {
    expect(recoverableWindows([], RANGES, undefined)).toEqual([]);
  });
});
