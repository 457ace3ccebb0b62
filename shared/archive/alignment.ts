/**
 * Exact alignment of the log with a base snapshot (DESIGN §2.5). An event of transaction X
 * belongs after the snapshot iff X is not visible in it: X ≥ xmax, or X is in xip. Events
 * carry pgoutput's 32-bit xid; the snapshot records 64-bit xid8 values, so the xid is first
 * widened with the snapshot's epoch, exactly as Postgres widens a 32-bit xid relative to a
 * nearby full one (FullXidRelativeTo): the widened value is the one within 2^31 of xmax.
 *
 * Do not align by LSN: a transaction can commit at an LSN before the snapshot's
 * pg_current_wal_lsn() and still be invisible to it.
 */
import { BacktrackError } from '../errors.js';

/** `pg_current_snapshot()` of a base snapshot, as xid8 values. */
export interface XidSnapshot {
  /** Oldest transaction still running when the snapshot was taken. */
  readonly xmin: bigint;
  /** First transaction id not yet assigned when the snapshot was taken. */
  readonly xmax: bigint;
  /** Transactions in progress at the snapshot (xmin ≤ x < xmax). */
  readonly xip: readonly bigint[];
}

const TWO_32 = 1n << 32n;
const TWO_31 = 1n << 31n;
/** Xids below this are special (invalid, bootstrap, frozen) and count as committed long ago. */
const FIRST_NORMAL_XID = 3n;

/**
 * Widens a 32-bit xid to the xid8 nearest `reference` (within 2^31 either way): the
 * reference's epoch, or the one before or after it when the 32-bit counter wrapped.
 * Throws VALIDATION_FAILED for an xid that would fall before the first epoch.
 */
export function widenXid(xid: number, reference: bigint): bigint {
  if (!Number.isInteger(xid) || xid < 0 || xid >= 2 ** 32) {
    throw new BacktrackError('VALIDATION_FAILED', `${xid} is not a 32-bit transaction id`);
  }
  const short = BigInt(xid);
  if (short < FIRST_NORMAL_XID) return short;
  // (int32)(xid − low 32 bits of the reference): how far the xid is ahead (+) or behind (−).
  let delta = (short - (reference % TWO_32) + TWO_32) % TWO_32;
  if (delta >= TWO_31) delta -= TWO_32;
  const wide = reference + delta;
  if (wide < FIRST_NORMAL_XID) {
    throw new BacktrackError(
      'VALIDATION_FAILED',
      `xid ${xid} cannot be widened relative to ${reference}: it would precede the first transaction`,
    );
  }
  return wide;
}

/**
 * Whether transaction `xid` (32-bit, as in an event) is visible in `snapshot`: it
 * committed before the snapshot was taken. Xids below xmin are visible; so is any xid
 * below xmax that is not in xip. (Aborted transactions produce no events, so "visible"
 * here means "its effects are in the snapshot".)
 */
export function isVisibleInSnapshot(xid: number, snapshot: XidSnapshot): boolean {
  const wide = widenXid(xid, snapshot.xmax);
  if (wide < snapshot.xmin) return true;
  if (wide >= snapshot.xmax) return false;
  return !snapshot.xip.includes(wide);
}

/** True when an event of transaction `xid` must be applied on top of the snapshot's rows. */
export function belongsAfterSnapshot(xid: number, snapshot: XidSnapshot): boolean {
  return !isVisibleInSnapshot(xid, snapshot);
}

/**
 * Parses Postgres's text form of a snapshot (`pg_current_snapshot()::text`:
 * `xmin:xmax:xip1,xip2`). Throws VALIDATION_FAILED on anything else.
 */
export function parseXidSnapshot(text: string): XidSnapshot {
  const match = /^(\d+):(\d+):((?:\d+(?:,\d+)*)?)$/.exec(text.trim());
  if (!match) {
    throw new BacktrackError(
      'VALIDATION_FAILED',
      `"${text}" is not a Postgres snapshot (expected xmin:xmax:xip,…)`,
    );
  }
  const [, xmin = '0', xmax = '0', xip = ''] = match;
  return {
    xmin: BigInt(xmin),
    xmax: BigInt(xmax),
    xip: xip === '' ? [] : xip.split(',').map((x) => BigInt(x)),
  };
}
