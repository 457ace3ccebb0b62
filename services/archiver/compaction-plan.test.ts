import { describe, expect, it } from 'vitest';

import type { OffsetGap } from '../../shared/archive/coverage.js';
import type { Segment } from '../../shared/catalog/segments.js';
import { parseLsn } from '../../shared/lsn.js';

import { planCompaction } from './compaction-plan.js';

function segment(
  tenant: string,
  rangeFrom: number,
  rangeTo: number,
  sizeBytes: number,
  partition = 0,
): Segment {
  const time = new Date(0);
  return {
    key: `${tenant}/${partition}/${rangeFrom}`,
    tenant,
    topic: 'bt.txlog',
    partition,
    rangeFrom: BigInt(rangeFrom),
    rangeTo: BigInt(rangeTo),
    firstOffset: BigInt(rangeFrom),
    lastOffset: BigInt(rangeTo - 1),
    eventCount: 1,
    minCommitLsn: parseLsn('0/1'),
    maxCommitLsn: parseLsn('0/1'),
    minCommitTime: time,
    maxCommitTime: time,
    minCommitTimeUs: 0n,
    maxCommitTimeUs: 0n,
    sizeBytes,
    sha256: '0'.repeat(64),
    codec: 'deflate',
    encrypted: false,
    keyId: null,
    schemaFingerprint: 'f',
    state: 'active',
    compactedInto: null,
    deleteAfter: null,
    createdAt: time,
  };
}

const keys = (groups: readonly (readonly Segment[])[]) => groups.map((g) => g.map((s) => s.key));
const noGaps = (): OffsetGap[] => [];

describe('compaction plan', () => {
  it('merges runs of small segments up to the target, per tenant and partition', () => {
    const segments = [
      segment('a', 0, 10, 10),
      segment('b', 0, 10, 10),
      segment('a', 20, 30, 10),
      segment('a', 10, 20, 10),
      segment('a', 30, 40, 80),
      segment('b', 10, 20, 10, 1),
    ];
    expect(keys(planCompaction(segments, noGaps, 200))).toEqual([
      ['a/0/0', 'a/0/10', 'a/0/20', 'a/0/30'],
    ]);
    expect(keys(planCompaction(segments, noGaps, 100))).toEqual([['a/0/0', 'a/0/10', 'a/0/20']]);
    expect(keys(planCompaction(segments, noGaps, 25))).toEqual([['a/0/0', 'a/0/10']]);
  });

  it('leaves large segments alone and splits runs around them', () => {
    const segments = [
      segment('a', 0, 10, 10),
      segment('a', 10, 20, 10),
      segment('a', 20, 30, 60),
      segment('a', 30, 40, 10),
      segment('a', 40, 50, 10),
    ];
    expect(keys(planCompaction(segments, noGaps, 100))).toEqual([
      ['a/0/0', 'a/0/10'],
      ['a/0/30', 'a/0/40'],
    ]);
  });

  it('merges across ranges where the tenant had no events, never across a gap', () => {
    const segments = [segment('a', 0, 10, 10), segment('a', 50, 60, 10), segment('a', 90, 95, 10)];
    const gaps = (): OffsetGap[] => [{ from: 70n, to: 80n, after: null, before: null }];
    expect(keys(planCompaction(segments, gaps, 100))).toEqual([['a/0/0', 'a/0/50']]);
  });

  it('ignores compacted segments and lone small ones', () => {
    const compacted = { ...segment('a', 10, 20, 10), state: 'compacted' as const };
    expect(planCompaction([segment('a', 0, 10, 10), compacted], noGaps, 100)).toEqual([]);
  });
});
