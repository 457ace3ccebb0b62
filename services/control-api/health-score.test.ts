import { describe, expect, test } from 'vitest';

import { type HealthInputs, healthScore } from './health-score.js';

const now = new Date('2026-11-20T12:00:00Z');
const HOUR = 3_600_000;
const healthy: HealthInputs = {
  now,
  operations: { succeeded: 10, failed: 0 },
  newestFullSnapshotAt: new Date(now.getTime() - HOUR),
  expectedIntervalMs: 24 * HOUR,
  schedules: [{ expected: 30, completed: 30 }],
  storage: { liveBytes: 1000, deadBytes: 0 },
};

describe('healthScore', () => {
  test('everything right scores 100', () => {
    expect(healthScore(healthy).score).toBe(100);
  });

  test.each([
    ['a quarter of operations failed', { operations: { succeeded: 3, failed: 1 } }, 90],
    ['no operations at all', { operations: { succeeded: 0, failed: 0 } }, 60],
    [
      'snapshot twice the expected age',
      { newestFullSnapshotAt: new Date(now.getTime() - 48 * HOUR) },
      85,
    ],
    [
      'snapshot three intervals old',
      { newestFullSnapshotAt: new Date(now.getTime() - 72 * HOUR) },
      70,
    ],
    ['no snapshot', { newestFullSnapshotAt: null }, 70],
    ['half the scheduled runs', { schedules: [{ expected: 10, completed: 5 }] }, 90],
    [
      'extra runs do not make up for none',
      {
        schedules: [
          { expected: 2, completed: 5 },
          { expected: 2, completed: 0 },
        ],
      },
      90,
    ],
    ['no schedule', { schedules: [] }, 80],
    ['schedule not due yet', { schedules: [{ expected: 0, completed: 0 }] }, 100],
    ['half the bytes dead', { storage: { liveBytes: 500, deadBytes: 500 } }, 95],
    ['nothing stored', { storage: { liveBytes: 0, deadBytes: 0 } }, 90],
  ] as const)('%s', (_name, change, expected) => {
    expect(healthScore({ ...healthy, ...change }).score).toBe(expected);
  });

  test('the parts add up and carry their maxima', () => {
    const { parts } = healthScore({ ...healthy, operations: { succeeded: 1, failed: 1 } });
    expect([
      parts.successRate.max,
      parts.recency.max,
      parts.scheduleCompliance.max,
      parts.storageEfficiency.max,
    ]).toEqual([40, 30, 20, 10]);
    expect(parts.successRate.points).toBe(20);
    expect(parts.successRate.ratio).toBe(0.5);
  });
});
