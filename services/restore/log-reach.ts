/**
 * Whether the transaction log holds every transaction that committed at or before the
 * target. Capture confirms the slot only up to what Kafka committed (and, when idle, up to
 * WAL it has seen hold nothing captured), so once the slot's confirmed_flush_lsn passes a
 * WAL position read after the target, every transaction committed by then is in the log.
 * The position is a probe's: a logical decoding message committed on its own, which
 * capture confirms past at once, so a recent target is proven in milliseconds.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type { Clock } from '../../shared/clock.js';
import { BacktrackError } from '../../shared/errors.js';
import { type Checkpoint, checkpointTopic, readCheckpoint } from '../../shared/events/index.js';
import type { KafkaPort } from '../../shared/kafka/index.js';
import { formatLsn, type Lsn, parseLsn } from '../../shared/lsn.js';
import type { Queryable } from '../../shared/pg/index.js';

import { formatInstant, type RestoreTarget } from './target.js';

/** Commit timestamps of concurrent transactions may disagree with their order by this much. */
const COMMIT_TIME_SKEW_US = 1_000_000n;

/** What is needed to tell how far the log reaches. */
export interface LogReachDeps {
  readonly source: Queryable;
  readonly kafka: KafkaPort;
  readonly topicPrefix: string;
  readonly slot: string;
  readonly clock: Clock;
  /** How long to wait for capture to pass the target (ms). */
  readonly waitMs: number;
  /** How far the log was seen to reach before (kept by the engine across restores). */
  readonly reached?: LogReached;
}

/**
 * The newest checkpoint a restore engine has read. The log only grows, so a target that an
 * earlier checkpoint passed is passed still: repeated restores and dry runs (a preview, then
 * the restore) do not read the checkpoint topic again. A capture gap does not undo it: gaps
 * are refused on their own (plan.ts).
 */
export class LogReached {
  private checkpoint: Checkpoint | undefined;

  /** Remembers `checkpoint` if it reaches further than the one held. */
  note(checkpoint: Checkpoint | undefined): void {
    if (checkpoint && (!this.checkpoint || checkpoint.commitEndLsn > this.checkpoint.commitEndLsn))
      this.checkpoint = checkpoint;
  }

  /** Whether the held checkpoint is past `target`. */
  passes(target: RestoreTarget): boolean {
    return this.checkpoint !== undefined && passes(this.checkpoint, target);
  }
}

/** Whether every transaction committed at or before `target` is at or below `checkpoint`. */
function passes(checkpoint: Checkpoint, target: RestoreTarget): boolean {
  return target.kind === 'time'
    ? checkpoint.commitTimeUs > target.us + COMMIT_TIME_SKEW_US
    : checkpoint.commitEndLsn > target.lsn;
}

async function slotPosition(db: Queryable, slot: string): Promise<Lsn | undefined> {
  const result = await db.query(
    `SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const lsn = result.rows[0]?.lsn;
  return typeof lsn === 'string' ? parseLsn(lsn) : undefined;
}

/** Prefix of the probe's logical decoding message (capture reads only its own tag's). */
const PROBE_PREFIX = 'backtrack-probe';

/**
 * Commits a transaction that holds only a logical decoding message and returns the
 * message's WAL position: capture receives the transaction, captures nothing of it and
 * confirms the slot past it once Kafka has committed its batch. Undefined without the
 * privilege to emit messages (nothing is written then).
 */
async function probe(db: Queryable): Promise<Lsn | undefined> {
  try {
    const result = await db.query(`SELECT pg_logical_emit_message(true, $1, '')::text AS lsn`, [
      PROBE_PREFIX,
    ]);
    const lsn = result.rows[0]?.lsn;
    return typeof lsn === 'string' ? parseLsn(lsn) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolves once the log holds everything committed at or before `target`; throws
 * VALIDATION_FAILED for a target in the future and CAPTURE_BEHIND when capture does not
 * get there within `waitMs`, naming how far the log reaches.
 */
export async function ensureLogReaches(deps: LogReachDeps, target: RestoreTarget): Promise<void> {
  const nowUs = BigInt(deps.clock.nowMs()) * 1000n;
  if (target.kind === 'time' && target.us > nowUs) {
    throw new BacktrackError(
      'VALIDATION_FAILED',
      `${target.text} is in the future (now is ${formatInstant(nowUs)}): a restore goes back in time only`,
      { details: { target: target.text } },
    );
  }
  if (deps.reached?.passes(target)) return;
  const checkpoint = await readCheckpoint(deps.kafka, checkpointTopic(deps.topicPrefix), deps.slot);
  deps.reached?.note(checkpoint);
  if (checkpoint && passes(checkpoint, target)) return;

  // The log may lag the target: prove it does not, by the slot passing today's WAL position.
  const serverPosition = async (): Promise<Lsn> =>
    parseLsn(
      String((await deps.source.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn),
    );
  if (target.kind === 'lsn') {
    const before = await serverPosition();
    if (target.lsn > before) {
      throw new BacktrackError(
        'VALIDATION_FAILED',
        `${target.text} is past the server's WAL position ${formatLsn(before)}: a restore goes back in time only`,
      );
    }
  }
  // Every transaction committed by now has its commit record before a WAL position read
  // now. A probe's message gives one that the slot passes as soon as capture has committed
  // the probe (today's end of WAL, with other databases' WAL in it, would need capture's
  // next idle advance, seconds away); without the privilege to emit it, today's end of WAL.
  const now = (await probe(deps.source)) ?? (await serverPosition());
  const deadline = deps.clock.nowMs() + deps.waitMs;
  let confirmed = await slotPosition(deps.source, deps.slot);
  // Soon after the probe, then less often (an idle advance is seconds away).
  let delayMs = 5;
  while ((confirmed === undefined || confirmed < now) && deps.clock.nowMs() < deadline) {
    await sleep(delayMs);
    delayMs = Math.min(delayMs * 2, 250);
    confirmed = await slotPosition(deps.source, deps.slot);
  }
  if (confirmed !== undefined && confirmed >= now) return;
  const reach = checkpoint ? formatInstant(checkpoint.commitTimeUs) : 'nothing yet';
  throw new BacktrackError(
    'CAPTURE_BEHIND',
    `the log does not reach ${target.text} yet: capture (slot ${deps.slot}) is at ${confirmed ? formatLsn(confirmed) : 'no position'}, the server at ${formatLsn(now)}; the log is complete up to ${reach}. Check that \`backtrack capture\` runs, or restore to an earlier instant`,
    { details: { slot: deps.slot, logReaches: reach } },
  );
}
