/** Exit codes of the `backtrack` command, stable for scripts. */
import { type ErrorCode, isBacktrackError, isRetriable } from '../../shared/errors.js';

/** What each exit status means. */
export const EXIT = {
  /** Done. */
  OK: 0,
  /** The operation failed (see the message). */
  FAILED: 1,
  /** Wrong usage or invalid input: nothing was changed. */
  USAGE: 2,
  /** The configuration is invalid or incomplete. */
  CONFIG: 3,
  /** A dependency (Postgres, Kafka, object storage) is unavailable; retrying may help. */
  UNAVAILABLE: 4,
  /** Refused because another operation holds the tenant (e.g. RESTORE_IN_PROGRESS). */
  CONFLICT: 5,
  /** The instant cannot be restored exactly: outside the recoverable window, or a gap in the log. */
  NOT_RECOVERABLE: 6,
} as const;

const BY_CODE: Partial<Record<ErrorCode, number>> = {
  VALIDATION_FAILED: EXIT.USAGE,
  TENANT_NOT_FOUND: EXIT.USAGE,
  BACKUP_NOT_FOUND: EXIT.USAGE,
  SNAPSHOT_NOT_FOUND: EXIT.USAGE,
  CONFIG_INVALID: EXIT.CONFIG,
  SOURCE_NOT_READY: EXIT.USAGE,
  RESTORE_IN_PROGRESS: EXIT.CONFLICT,
  SLOT_IN_USE: EXIT.CONFLICT,
  TARGET_OUTSIDE_WINDOW: EXIT.NOT_RECOVERABLE,
  COVERAGE_GAP: EXIT.NOT_RECOVERABLE,
};

/** The exit status for an error that ended a command. */
export function exitCodeOf(e: unknown): number {
  if (isBacktrackError(e)) {
    const mapped = BY_CODE[e.code];
    if (mapped !== undefined) return mapped;
  }
  return isRetriable(e) ? EXIT.UNAVAILABLE : EXIT.FAILED;
}
