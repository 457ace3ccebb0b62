import { describe, expect, test } from 'vitest';

import { type RetainedSnapshot, retentionHold } from './retention.js';

const DAY = 86_400_000;
const now = new Date('2026-11-20T00:00:00Z');
const snap = (
  id: string,
  daysAgo: number,
  extra: Partial<RetainedSnapshot> = {},
): RetainedSnapshot => ({
  id,
  kind: 'full',
  status: 'completed',
  takenAt: new Date(now.getTime() - daysAgo * DAY),
  expiresAt: null,
  ...extra,
});

describe('retentionHold', () => {
  const all = [snap('old', 50), snap('anchor', 40), snap('inside', 10), snap('newest', 1)];
  test.each([
    ['old', undefined],
    ['anchor', 'newest snapshot at or before'],
    ['inside', 'inside the 30-day'],
    ['newest', 'inside the 30-day'],
  ])('%s', (id, expected) => {
    const s = all.find((x) => x.id === id) as RetainedSnapshot;
    const hold = retentionHold(s, all, 30, now);
    if (expected === undefined) expect(hold).toBeUndefined();
    else expect(hold).toContain(expected);
  });

  test('schema and failed snapshots never hold; running and unexpired pre-restore ones do', () => {
    expect(retentionHold(snap('s', 1, { kind: 'schema' }), all, 30, now)).toBeUndefined();
    expect(retentionHold(snap('f', 1, { status: 'failed' }), all, 30, now)).toBeUndefined();
    expect(retentionHold(snap('r', 1, { status: 'running' }), all, 30, now)).toContain(
      'being taken',
    );
    const pre = snap('p', 100, { kind: 'pre_restore', expiresAt: new Date(now.getTime() + DAY) });
    expect(retentionHold(pre, [...all, pre], 30, now)).toContain('rollback');
  });

  test('with no snapshot before the window, the oldest inside it holds', () => {
    const recent = [snap('a', 5), snap('b', 2)];
    expect(retentionHold(recent[0] as RetainedSnapshot, recent, 30, now)).toContain('inside');
  });
});
