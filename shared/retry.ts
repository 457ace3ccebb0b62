/**
 * The retry policy of long-running loops: retry with jittered exponential backoff while
 * the error is retriable, otherwise give up at once.
 */
import { isRetriable } from './errors.js';

/** Backoff parameters. */
export interface BackoffPolicy {
  /** First delay, in ms. */
  initialMs: number;
  /** Largest delay, in ms. */
  maxMs: number;
  /** Attempts in all (first try included); Infinity retries for ever. */
  maxAttempts: number;
}

/** A policy suited to dependencies that come back within a minute or two. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 10_000, maxAttempts: 10 };

/**
 * Delay before retry number `attempt` (1-based): "full jitter", a uniform draw in
 * [0, min(max, initial·2^(attempt-1))], so that many clients do not retry in step.
 */
export function backoffDelay(
  attempt: number,
  policy: Pick<BackoffPolicy, 'initialMs' | 'maxMs'>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}

/** Options of {@link retry}. */
export interface RetryOptions {
  policy?: BackoffPolicy;
  /** Decides whether an error is worth another attempt; {@link isRetriable} by default. */
  retriable?: (e: unknown) => boolean;
  /** Called before each wait, e.g. to log the failure. */
  onRetry?: (e: unknown, attempt: number, delayMs: number) => void;
  /** Aborts the waits (the last error is thrown). */
  signal?: AbortSignal;
  random?: () => number;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Runs `operation` until it succeeds, a non-retriable error occurs, or attempts run out. */
export async function retry<T>(
  operation: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const policy = options.policy ?? DEFAULT_BACKOFF;
  const retriable = options.retriable ?? isRetriable;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (e) {
      if (attempt >= policy.maxAttempts || !retriable(e) || options.signal?.aborted) throw e;
      const delay = backoffDelay(attempt, policy, options.random);
      options.onRetry?.(e, attempt, delay);
      await sleep(delay, options.signal);
      if (options.signal?.aborted) throw e;
    }
  }
}
