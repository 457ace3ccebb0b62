/**
 * Cron expressions with a time zone, through croner: 5 fields (minute precision) or 6
 * (seconds first). The scheduler and the API share these so that what the API accepts is
 * exactly what the scheduler can run.
 */
import { Cron } from 'croner';

/** Whether `zone` is an IANA time zone this runtime knows (e.g. Europe/Paris, UTC). */
export function isTimeZone(zone: string): boolean {
  if (zone.length === 0 || zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function pattern(expression: string, timezone: string): Cron {
  return new Cron(expression, { timezone, paused: true, mode: '5-or-6-parts' });
}

/** Why `expression` is not a cron expression croner runs, or undefined when it is. */
export function cronProblem(expression: string, timezone = 'UTC'): string | undefined {
  if (expression.length > 120) return 'is longer than 120 characters';
  try {
    const cron = pattern(expression, timezone);
    if (cron.nextRun(new Date()) === null) return 'never fires';
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** The first fire time of `expression` in `timezone` strictly after `after`, or null. */
export function nextFireTime(expression: string, timezone: string, after: Date): Date | null {
  return pattern(expression, timezone).nextRun(after);
}

/**
 * Fire times in (from, to], at most `limit` of them: what a schedule should have run in a
 * period (schedule compliance).
 */
export function fireTimesBetween(
  expression: string,
  timezone: string,
  from: Date,
  to: Date,
  limit = 10_000,
): Date[] {
  const cron = pattern(expression, timezone);
  const times: Date[] = [];
  let at: Date | null = cron.nextRun(from);
  while (at !== null && at <= to && times.length < limit) {
    times.push(at);
    at = cron.nextRun(at);
  }
  return times;
}

/** The shortest gap between the next `count` fire times (ms): how often a schedule fires. */
export function fireInterval(
  expression: string,
  timezone: string,
  from: Date,
  count = 6,
): number | undefined {
  const runs = pattern(expression, timezone).nextRuns(count, from);
  let shortest: number | undefined;
  for (let i = 1; i < runs.length; i++) {
    const gap = (runs[i]?.getTime() ?? 0) - (runs[i - 1]?.getTime() ?? 0);
    if (shortest === undefined || gap < shortest) shortest = gap;
  }
  return shortest;
}
