/**
 * What a process's `/healthz` answers. The endpoint has no auth, so the answer holds only
 * words from a closed set, per check: never a slot or group name, a position, a host, a
 * port or an error's text. Those go to the log, as the health's `detail`.
 */
import { type ErrorCode, isBacktrackError } from './errors.js';

/** The words a check may answer. */
export const HEALTH_REASONS = {
  ok: 'ok',
  starting: 'starting',
  restarting: 'restarting',
  stopping: 'stopping',
  stopped: 'stopped',
  failed: 'failed',
  /** The dependency does not answer (connection refused, timeout, name not found…). */
  unreachable: 'unreachable',
  /** The dependency answers and refuses what is asked (authorization, a rejected request). */
  refused: 'refused',
  /** Held by another process (a replication slot another capture streams). */
  busy: 'busy',
  /** A setting or the dependency's set-up is wrong (missing slot, bucket, migration…). */
  misconfigured: 'misconfigured',
} as const;

/** One of {@link HEALTH_REASONS}. */
export type HealthReason = (typeof HEALTH_REASONS)[keyof typeof HEALTH_REASONS];

/** What a process reports to its `/healthz`. */
export interface Health {
  readonly healthy: boolean;
  /** The only part answered: a generic reason per check, e.g. `{ kafka: 'unreachable' }`. */
  readonly checks: Readonly<Record<string, HealthReason>>;
  /** Logged (at warn) when unhealthy, never answered: names, positions, the error. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** The dependency and reason an error code stands for; codes absent here name none. */
const FAILED_CHECK: Partial<Record<ErrorCode, readonly [check: string, reason: HealthReason]>> = {
  SOURCE_UNAVAILABLE: ['source', 'unreachable'],
  SOURCE_NOT_READY: ['source', 'misconfigured'],
  SLOT_IN_USE: ['source', 'busy'],
  CATALOG_UNAVAILABLE: ['catalog', 'unreachable'],
  KAFKA_UNAVAILABLE: ['kafka', 'unreachable'],
  KAFKA_REFUSED: ['kafka', 'refused'],
  STORAGE_UNAVAILABLE: ['storage', 'unreachable'],
  STORAGE_NOT_FOUND: ['storage', 'misconfigured'],
  CONFIG_INVALID: ['config', 'misconfigured'],
};

/**
 * The check an error fails, as a generic reason (`{ kafka: 'unreachable' }`), or `{}` when
 * it names no dependency (no error, an unexpected one): its text is for the log only.
 */
export function failedCheckOf(e: unknown): Readonly<Record<string, HealthReason>> {
  if (!isBacktrackError(e)) return {};
  const failed = FAILED_CHECK[e.code];
  return failed ? { [failed[0]]: failed[1] } : {};
}
