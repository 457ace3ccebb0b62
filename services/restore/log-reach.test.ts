import { describe, expect, test } from 'vitest';

import type { Checkpoint } from '../../shared/events/index.js';
import { lsnFromBigInt } from '../../shared/lsn.js';

import { LogReached } from './log-reach.js';

function checkpoint(end: bigint, commitTimeUs: bigint): Checkpoint {
  return {
    slot: 's',
    commitEndLsn: lsnFromBigInt(end),
    commitLsn: lsnFromBigInt(end - 8n),
    xid: 1,
    commitTimeUs,
  };
}

const at = (us: bigint) => ({ kind: 'time' as const, us, text: 't' });
const lsn = (value: bigint) => ({ kind: 'lsn' as const, lsn: lsnFromBigInt(value), text: 'l' });

describe('LogReached', () => {
  test('passes nothing before a checkpoint was noted', () => {
    const reached = new LogReached();
    reached.note(undefined);
    expect(reached.passes(at(0n))).toBe(false);
    expect(reached.passes(lsn(0n))).toBe(false);
  });

  test('passes a time only past the commit-time skew, and an LSN below the commit end', () => {
    const reached = new LogReached();
    reached.note(checkpoint(5_000n, 10_000_000n));
    expect(reached.passes(at(8_999_999n))).toBe(true);
    // Within a second of the checkpoint's commit time: a concurrent commit may be missing.
    expect(reached.passes(at(9_000_000n))).toBe(false);
    expect(reached.passes(lsn(4_999n))).toBe(true);
    expect(reached.passes(lsn(5_000n))).toBe(false);
  });

  test('keeps the checkpoint that reaches furthest', () => {
    const reached = new LogReached();
    reached.note(checkpoint(5_000n, 10_000_000n));
    reached.note(checkpoint(4_000n, 9_000_000n));
    expect(reached.passes(lsn(4_500n))).toBe(true);
    reached.note(checkpoint(6_000n, 20_000_000n));
    expect(reached.passes(at(15_000_000n))).toBe(true);
  });
});
