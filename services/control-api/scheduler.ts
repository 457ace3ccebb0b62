/**
 * The scheduler: every instance runs one, one of them leads. Leadership is a session-level
 * Postgres advisory lock on the catalog, held on a dedicated connection for as long as that
 * connection lives (if it dies, Postgres releases the lock and another instance takes it at
 * its next tick). The leader, every interval, in one catalog transaction: locks the due
 * schedules (FOR UPDATE SKIP LOCKED), queues one job for each, and moves its next run to the
 * first fire time after now. A stretch of missed fire times (the scheduler was down) is thus
 * caught up by exactly one job. The leader also prunes old rate-limit windows.
 */
import { randomUUID } from 'node:crypto';

import { enqueueJob, type JobType } from '../../shared/catalog/jobs.js';
import { pruneRateWindows } from '../../shared/catalog/rate-limits.js';
import {
  lockDueSchedules,
  markScheduleRun,
  type Schedule,
} from '../../shared/catalog/schedules.js';
import type { Clock } from '../../shared/clock.js';
import { type Service, service } from '../../shared/lifecycle.js';
import type { Logger } from '../../shared/logging.js';
import type { PgPool, PgSession } from '../../shared/pg/index.js';

import { nextFireTime } from './cron.js';

/** Key of the leader's advisory lock (any constant; its hex bytes spell "btsched"). */
const LEADER_LOCK = '27712586655491428';

/** What the scheduler needs. */
export interface SchedulerDeps {
  readonly catalog: PgPool;
  readonly log: Logger;
  readonly clock: Clock;
  readonly intervalMs: number;
}

/** A running scheduler. */
export interface Scheduler extends Service {
  isLeader(): boolean;
  /** Runs one tick now (tries to lead; if leader, queues due jobs). Resolves to the jobs queued. */
  tick(): Promise<number>;
}

function jobFor(schedule: Schedule): { type: JobType; params: Record<string, unknown> } {
  const p = (
    typeof schedule.params === 'object' && schedule.params !== null ? schedule.params : {}
  ) as Record<string, unknown>;
  switch (schedule.jobType) {
    case 'snapshot':
      return {
        type: 'snapshot',
        params: { kind: p.kind ?? 'full', label: `schedule ${schedule.name}` },
      };
    case 'verify':
      return { type: 'verify', params: {} };
    case 'dr-test':
      return {
        type: 'dr-test',
        params: {
          testName: p.testName ?? schedule.name,
          testType: 'scheduled',
          validationLevel: p.validationLevel ?? 'basic',
          ...(p.drPlanId ? { drPlanId: p.drPlanId } : {}),
        },
      };
    case 'compaction':
      return { type: 'compaction', params: {} };
  }
}

/** Starts the scheduler loop. */
export function startScheduler(deps: SchedulerDeps): Scheduler {
  const log = deps.log.child({ component: 'scheduler' });
  let leaderSession: PgSession | undefined;
  let lastPrune = 0;
  let ticking: Promise<number> = Promise.resolve(0);

  const lead = async (): Promise<boolean> => {
    if (leaderSession) {
      try {
        await leaderSession.query('SELECT 1');
        return true;
      } catch (e) {
        log.warn(
          { err: e },
          'lost the leader connection; leadership goes to whoever takes the lock',
        );
        leaderSession.release(true);
        leaderSession = undefined;
      }
    }
    const session = await deps.catalog.connect();
    try {
      const result = await session.query(
        `SELECT pg_try_advisory_lock(${LEADER_LOCK}::bigint) AS ok`,
      );
      if (result.rows[0]?.ok === true) {
        leaderSession = session;
        log.info('this instance leads the scheduler');
        return true;
      }
      session.release();
      return false;
    } catch (e) {
      session.release(true);
      throw e;
    }
  };

  const queueDue = async (): Promise<number> =>
    deps.catalog.transaction(async (tx) => {
      const due = await lockDueSchedules(tx);
      for (const schedule of due) {
        const { type, params } = jobFor(schedule);
        const id = randomUUID();
        await enqueueJob(tx, {
          id,
          tenant: schedule.tenant,
          type,
          params,
          scheduleId: schedule.id,
          createdBy: `scheduler:${schedule.name}`,
        });
        // The next run is the first fire time after now: missed ones are caught up by this one job.
        const next = nextFireTime(schedule.cron, schedule.timezone, deps.clock.now());
        await markScheduleRun(tx, schedule.id, id, next);
        log.info(
          { schedule: schedule.id, tenant: schedule.tenant, job: id, type, next },
          'scheduled job queued',
        );
      }
      return due.length;
    });

  const tickOnce = async (): Promise<number> => {
    if (!(await lead())) return 0;
    const queued = await queueDue();
    if (deps.clock.nowMs() - lastPrune > 3_600_000) {
      lastPrune = deps.clock.nowMs();
      await pruneRateWindows(deps.catalog, 86_400);
    }
    return queued;
  };

  const tick = (): Promise<number> => {
    ticking = ticking.then(tickOnce, tickOnce);
    return ticking;
  };

  const timer = setInterval(() => {
    tick().catch((e: unknown) =>
      log.warn({ err: e }, 'scheduler tick failed; trying again at the next one'),
    );
  }, deps.intervalMs);
  tick().catch((e: unknown) =>
    log.warn({ err: e }, 'scheduler tick failed; trying again at the next one'),
  );

  return {
    isLeader: () => leaderSession !== undefined,
    tick,
    ...service('scheduler', async () => {
      clearInterval(timer);
      await ticking.catch(() => undefined);
      if (leaderSession) {
        await leaderSession
          .query(`SELECT pg_advisory_unlock(${LEADER_LOCK}::bigint)`)
          .catch(() => undefined);
        leaderSession.release();
        leaderSession = undefined;
      }
    }),
  };
}
