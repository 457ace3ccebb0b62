/**
 * Job workers: each of `concurrency` loops claims the oldest runnable job (FOR UPDATE SKIP
 * LOCKED: two workers never take the same one), renews its lease every third of the lease
 * while the job runs, reports its progress, and finishes it. A worker that dies leaves its
 * job `running` with a lease that expires; another worker then claims it again. That is
 * safe because every engine is atomic: an in-place restore or rollback is one source
 * transaction (a dead worker's is rolled back by Postgres, and the engine marks its catalog
 * record abandoned), a snapshot or restore into a schema that did not finish is not used.
 * Retriable errors re-queue the job with a backoff until its attempts run out; others fail it.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

import {
  claimJob,
  failExhaustedJobs,
  finishJob,
  type Job,
  renewLease,
  reportProgress,
} from '../../shared/catalog/jobs.js';
import type { JobsConfig } from '../../shared/config/index.js';
import { describeError, isBacktrackError, isRetriable } from '../../shared/errors.js';
import { type Service, service } from '../../shared/lifecycle.js';

import type { DrTestDeps } from './dr-test.js';
import { runJob } from './job-handlers.js';

/** What the workers need. */
export interface WorkerDeps extends DrTestDeps {
  readonly jobs: JobsConfig;
  /** Names this process in job leases; host:pid:random when absent. */
  readonly owner?: string;
}

/** The running workers. */
export interface Workers extends Service {
  readonly owner: string;
  /** Jobs running in this process now. */
  running(): number;
}

/** How often progress is written at most (ms); phase changes are written at once. */
const PROGRESS_INTERVAL_MS = 250;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const wake = (): void => {
      clearTimeout(timer);
      resolve();
    };
    // The listener goes with the sleep: an idle loop must not pile them up on the signal.
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', wake);
      resolve();
    }, ms);
    signal.addEventListener('abort', wake, { once: true });
  });
}

/** Starts the workers (none when concurrency is 0). */
export function startWorkers(deps: WorkerDeps): Workers {
  const owner = deps.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const log = deps.log.child({ component: 'worker', owner });
  const stopping = new AbortController();
  let running = 0;

  const execute = async (job: Job): Promise<void> => {
    const jobLog = log.child({
      job: job.id,
      type: job.type,
      tenant: job.tenant,
      attempt: job.attempts,
    });
    jobLog.info('job started');
    let lastWrite = 0;
    let lastPhase: unknown;
    let pending: Promise<void> = Promise.resolve();
    const report = (progress: Record<string, unknown>): void => {
      const now = Date.now();
      if (progress.phase === lastPhase && now - lastWrite < PROGRESS_INTERVAL_MS) return;
      lastWrite = now;
      lastPhase = progress.phase;
      // Written in order, one at a time; a failed write only loses a progress line.
      pending = pending
        .then(() =>
          reportProgress(deps.catalog, job.id, owner, {
            ...progress,
            at: new Date(now).toISOString(),
          }),
        )
        .catch((e: unknown) => jobLog.warn({ err: e }, 'could not record job progress'));
    };
    const heartbeat = setInterval(
      () => {
        renewLease(deps.catalog, job.id, owner, deps.jobs.leaseMs).then(
          (held) => {
            if (!held) jobLog.warn('lost the lease of a running job');
          },
          (e: unknown) => jobLog.warn({ err: e }, 'could not renew a job lease'),
        );
      },
      Math.max(100, Math.floor(deps.jobs.leaseMs / 3)),
    );
    try {
      const result = await runJob(deps, job, report);
      await pending;
      await finishJob(deps.catalog, job.id, owner, { status: 'completed', result });
      jobLog.info('job completed');
    } catch (e) {
      await pending;
      const errorCode = isBacktrackError(e) ? e.code : 'INTERNAL';
      const error = describeError(e);
      if (isRetriable(e) && job.attempts < job.maxAttempts) {
        const delayMs = Math.min(60_000, 1000 * 2 ** job.attempts);
        await finishJob(deps.catalog, job.id, owner, {
          status: 'retry',
          errorCode,
          error,
          delayMs,
        });
        jobLog.warn({ err: e, delayMs }, 'job failed; retrying');
      } else {
        await finishJob(deps.catalog, job.id, owner, { status: 'failed', errorCode, error });
        jobLog.warn({ err: e }, 'job failed');
      }
    } finally {
      clearInterval(heartbeat);
    }
  };

  const loop = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      let job: Job | undefined;
      try {
        await failExhaustedJobs(deps.catalog);
        job = await claimJob(deps.catalog, owner, deps.jobs.leaseMs);
      } catch (e) {
        log.warn({ err: e }, 'could not claim a job; trying again');
      }
      if (!job) {
        await sleep(deps.jobs.pollMs, stopping.signal);
        continue;
      }
      running += 1;
      try {
        await execute(job);
      } catch (e) {
        log.error(
          { err: e, job: job.id },
          'could not record how a job ended; its lease will expire and it will be retried',
        );
      } finally {
        running -= 1;
      }
    }
  };

  const loops = Array.from({ length: deps.jobs.workerConcurrency }, () => loop());
  log.info({ concurrency: deps.jobs.workerConcurrency }, 'workers started');
  return {
    owner,
    running: () => running,
    ...service(
      'workers',
      async () => {
        stopping.abort();
        await Promise.all(loops);
      },
      // A job still running past this keeps its lease until it expires; another worker retries it.
      120_000,
    ),
  };
}
