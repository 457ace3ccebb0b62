/**
 * One error class and one registry of codes for the whole service.
 *
 * The API codes of DESIGN §2.7 carry their HTTP status; internal codes map to 500 (or
 * 503 when the dependency is unavailable) unless the control API decides otherwise.
 */

/** Every error code Backtrack raises, with its HTTP status and whether retrying can help. */
export const ERROR_CODES = {
  AUTH_REQUIRED: { httpStatus: 401, retriable: false },
  INSUFFICIENT_PERMISSIONS: { httpStatus: 403, retriable: false },
  VALIDATION_FAILED: { httpStatus: 400, retriable: false },
  PAYLOAD_TOO_LARGE: { httpStatus: 413, retriable: false },
  HEADERS_TOO_LARGE: { httpStatus: 431, retriable: false },
  REQUEST_TIMEOUT: { httpStatus: 408, retriable: true },
  TENANT_NOT_FOUND: { httpStatus: 404, retriable: false },
  BACKUP_NOT_FOUND: { httpStatus: 404, retriable: false },
  SNAPSHOT_NOT_FOUND: { httpStatus: 404, retriable: false },
  RESTORE_IN_PROGRESS: { httpStatus: 409, retriable: false },
  RATE_LIMIT_EXCEEDED: { httpStatus: 429, retriable: true },
  RESOURCE_NOT_FOUND: { httpStatus: 404, retriable: false },
  BACKUP_IN_USE: { httpStatus: 409, retriable: false },
  CONFIG_INVALID: { httpStatus: 500, retriable: false },
  COVERAGE_GAP: { httpStatus: 422, retriable: false },
  CAPTURE_BEHIND: { httpStatus: 503, retriable: true },
  TARGET_OUTSIDE_WINDOW: { httpStatus: 422, retriable: false },
  SOURCE_UNAVAILABLE: { httpStatus: 503, retriable: true },
  SOURCE_NOT_READY: { httpStatus: 500, retriable: false },
  SLOT_IN_USE: { httpStatus: 409, retriable: true },
  CATALOG_UNAVAILABLE: { httpStatus: 503, retriable: true },
  AUDIT_UNAVAILABLE: { httpStatus: 503, retriable: true },
  KAFKA_UNAVAILABLE: { httpStatus: 503, retriable: true },
  KAFKA_REFUSED: { httpStatus: 500, retriable: false },
  STORAGE_UNAVAILABLE: { httpStatus: 503, retriable: true },
  STORAGE_NOT_FOUND: { httpStatus: 404, retriable: false },
  INTEGRITY_FAILED: { httpStatus: 500, retriable: false },
  DECRYPTION_FAILED: { httpStatus: 500, retriable: false },
  ARCHIVE_CONFLICT: { httpStatus: 409, retriable: false },
  PROTOCOL_VIOLATION: { httpStatus: 500, retriable: false },
  SHUTTING_DOWN: { httpStatus: 503, retriable: false },
  INTERNAL: { httpStatus: 500, retriable: false },
} as const satisfies Record<string, { httpStatus: number; retriable: boolean }>;

/** A code from {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Options of a {@link BacktrackError} beyond its code and message. */
export interface BacktrackErrorOptions {
  /** Structured facts for logs and API responses (never tenant row data). */
  details?: Record<string, unknown>;
  /** The error this one explains. */
  cause?: unknown;
  /** Overrides the registry's default for this code. */
  retriable?: boolean;
}

/**
 * The error type of Backtrack. Its message says what happened and what to do; `details`
 * holds the facts; `retriable` tells the retry policy whether trying again can help.
 */
export class BacktrackError extends Error {
  override readonly name = 'BacktrackError';
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: BacktrackErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? ERROR_CODES[code].retriable;
    this.details = options.details;
  }
}

/** One problem of a refused request: where it is (`body`, `querystring`…), which field, why. */
export interface InputProblem {
  readonly in: string;
  readonly path: string;
  readonly message: string;
}

/** VALIDATION_FAILED for one problem of the input, listed in `details.problems`. */
export function invalidInput(message: string, problem: InputProblem): BacktrackError {
  return new BacktrackError('VALIDATION_FAILED', message, { details: { problems: [problem] } });
}

/** True when `e` is a {@link BacktrackError}, optionally of the given code. */
export function isBacktrackError(e: unknown, code?: ErrorCode): e is BacktrackError {
  return e instanceof BacktrackError && (code === undefined || e.code === code);
}

/**
 * SQLSTATEs after which the same statement can succeed later. Class 28 (authorization)
 * and programming errors (class 42, 22, 23…) are deliberately absent: retrying them only
 * delays the message the operator needs.
 */
const RETRIABLE_SQLSTATES: ReadonlyMap<string, string> = new Map([
  ['40001', 'serialization_failure'],
  ['40P01', 'deadlock_detected'],
  ['55P03', 'lock_not_available'],
  ['53300', 'too_many_connections'],
  ['57P01', 'admin_shutdown'],
  ['57P02', 'crash_shutdown'],
  ['57P03', 'cannot_connect_now'],
  ['08000', 'connection_exception'],
  ['08001', 'sqlclient_unable_to_establish_sqlconnection'],
  ['08003', 'connection_does_not_exist'],
  ['08004', 'sqlserver_rejected_establishment_of_sqlconnection'],
  ['08006', 'connection_failure'],
]);

/** Node system error codes of a network that may come back. */
const RETRIABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

function field(e: object, name: string): unknown {
  return (e as Record<string, unknown>)[name];
}

/**
 * Whether retrying the operation that threw `e` can help: our own flag, kafkajs's
 * `retriable`, librdkafka's `isRetriable` and `isTxnRequiresAbort` (the transaction can be
 * tried again once aborted), the AWS SDK's `$retryable` and 5xx, the SQLSTATE table above,
 * and network errors. Anything unknown is not retriable.
 */
export function isRetriable(e: unknown): boolean {
  if (e instanceof BacktrackError) return e.retriable;
  if (typeof e !== 'object' || e === null) return false;

  const kafkaFlag = field(e, 'retriable');
  if (typeof kafkaFlag === 'boolean') return kafkaFlag;

  const librdkafkaFlag = field(e, 'isRetriable');
  const abortFirst = field(e, 'isTxnRequiresAbort');
  if (typeof librdkafkaFlag === 'boolean' || typeof abortFirst === 'boolean') {
    return librdkafkaFlag === true || abortFirst === true;
  }

  if (field(e, '$retryable') !== undefined) return true;
  const metadata = field(e, '$metadata');
  if (typeof metadata === 'object' && metadata !== null) {
    const status = field(metadata, 'httpStatusCode');
    if (typeof status === 'number') return status >= 500 || status === 429;
  }

  const code = field(e, 'code');
  if (typeof code === 'string') {
    if (RETRIABLE_SQLSTATES.has(code)) return true;
    if (RETRIABLE_NETWORK_CODES.has(code)) return true;
  }
  const message = field(e, 'message');
  if (typeof message === 'string' && /Connection terminated|socket hang up/i.test(message)) {
    return true;
  }
  const cause = field(e, 'cause');
  return cause !== undefined && cause !== e && isRetriable(cause);
}

/** A short description of any thrown value, for logs and one-line CLI errors. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
