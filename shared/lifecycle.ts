/**
 * The lifecycle of long-running pieces: each start function returns a {@link Service}
 * whose `stop()` is idempotent, bounded by a timeout, and stops its parts in reverse order
 * of their start.
 */
import { BacktrackError } from './errors.js';

/** Something that runs until stopped. */
export interface Service {
  /** Stops the service; safe to call more than once; resolves when it has stopped. */
  stop(): Promise<void>;
}

/** Runs `promise` but gives up after `ms` with a SHUTTING_DOWN error naming `what`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BacktrackError('SHUTTING_DOWN', `${what} did not finish within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Wraps a stop function so that it runs once; later calls wait for the same result. The
 * stop is abandoned after `timeoutMs` (the caller then exits anyway).
 */
export function service(name: string, stop: () => Promise<void>, timeoutMs = 30_000): Service {
  let stopping: Promise<void> | undefined;
  return {
    stop: () => {
      stopping ??= withTimeout(stop(), timeoutMs, `stopping ${name}`);
      return stopping;
    },
  };
}

/**
 * Combines services started in order into one that stops them in reverse order. Every
 * part is asked to stop even when an earlier one fails; the first failure is rethrown.
 */
export function composeServices(name: string, parts: readonly Service[]): Service {
  return service(name, async () => {
    let firstError: Error | undefined;
    for (const part of [...parts].reverse()) {
      try {
        await part.stop();
      } catch (e) {
        firstError ??= e instanceof Error ? e : new Error(String(e));
      }
    }
    if (firstError !== undefined) throw firstError;
  });
}
