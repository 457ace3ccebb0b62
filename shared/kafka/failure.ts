/**
 * How a failure of a Kafka client becomes a BacktrackError, whichever client it came from:
 * KAFKA_REFUSED when the broker (or the client, before sending) refused what retrying cannot
 * change, KAFKA_UNAVAILABLE (retriable) otherwise — connections refused or reset, timeouts,
 * leaders moving, coordinators loading, a producer fenced or failed for good (a new one
 * takes over): the caller's loop decides how long to keep trying.
 */
import { BacktrackError } from '../errors.js';

/** What an adapter learnt of a client error. */
export interface ClassifiedFailure {
  /** The client's name of the error, e.g. `MESSAGE_TOO_LARGE` or `ERR_MSG_SIZE_TOO_LARGE`. */
  readonly type: string | undefined;
  /** True when retrying cannot help. */
  readonly refused: boolean;
  /** Facts for the log (codes and flags of the client). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The message of any thrown value. */
export function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The BacktrackError of a failed `what` (e.g. "to commit a transaction"). */
export function kafkaError(e: unknown, what: string, failure: ClassifiedFailure): BacktrackError {
  if (e instanceof BacktrackError) return e;
  const reason = reasonOf(e);
  const details =
    failure.type === undefined && failure.details === undefined
      ? undefined
      : { ...(failure.type === undefined ? {} : { type: failure.type }), ...failure.details };
  if (failure.refused) {
    return new BacktrackError(
      'KAFKA_REFUSED',
      `Kafka refused ${what}: ${failure.type} (${reason})`,
      {
        cause: e,
        details,
      },
    );
  }
  return new BacktrackError('KAFKA_UNAVAILABLE', `Kafka failed ${what}: ${reason}`, {
    cause: e,
    retriable: true,
    details,
  });
}

/** The error of a client that could not connect, naming the brokers it tried. */
export function cannotReach(brokers: readonly string[], e: unknown): BacktrackError {
  return new BacktrackError(
    'KAFKA_UNAVAILABLE',
    `cannot reach Kafka at ${brokers.join(',')} (${reasonOf(e)}); check BACKTRACK_KAFKA_BROKERS and that the brokers run`,
    { cause: e, retriable: true },
  );
}
