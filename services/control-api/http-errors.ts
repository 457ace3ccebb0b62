/**
 * The one error handler of the control API. Every error becomes
 * `{ success: false, error: { code, message, details? } }` with the status of its code in
 * the registry (ERROR_CODES[code].httpStatus): one code → status table for the whole API.
 * Validation problems are 400 VALIDATION_FAILED listing each problem; anything unknown is a
 * generic 500 INTERNAL whose details go to the log only.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

import {
  BacktrackError,
  ERROR_CODES,
  type ErrorCode,
  type InputProblem,
  invalidInput,
} from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';

/** The body of every error response. */
export interface ErrorBody {
  readonly success: false;
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly details?: Record<string, unknown>;
  };
}

/** The error body and status of `code`. */
export function errorBody(
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
): ErrorBody {
  return { success: false, error: { code, message, ...(details ? { details } : {}) } };
}

/** Sends `error` as the API's error response. */
export function sendError(reply: FastifyReply, error: BacktrackError): FastifyReply {
  return reply
    .code(ERROR_CODES[error.code].httpStatus)
    .send(errorBody(error.code, error.message, error.details));
}

function isFastifyError(e: unknown): e is FastifyError {
  return e instanceof Error && typeof (e as Partial<FastifyError>).code === 'string';
}

/** Turns any thrown value into the error the client sees. */
export function toBacktrackError(e: unknown, request: FastifyRequest, log: Logger): BacktrackError {
  if (e instanceof BacktrackError) {
    if (e.code === 'INTERNAL') {
      log.error({ err: e, requestId: request.id }, 'internal error');
      return new BacktrackError(
        'INTERNAL',
        `an internal error occurred; the operators' log has the details under request id ${request.id}`,
      );
    }
    return e;
  }
  if (hasZodFastifySchemaValidationErrors(e)) {
    const where = (e as { validationContext?: string }).validationContext ?? 'request';
    const problems: InputProblem[] = e.validation.map((v) => ({
      in: where,
      path: v.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(root)',
      message: v.message ?? 'invalid',
    }));
    return new BacktrackError(
      'VALIDATION_FAILED',
      `the ${where} is invalid: ${problems
        .slice(0, 3)
        .map((p) => `${p.path}: ${p.message}`)
        .join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`,
      { details: { problems } },
    );
  }
  if (isFastifyError(e) && e.statusCode === 413) {
    return new BacktrackError(
      'PAYLOAD_TOO_LARGE',
      `the request body is larger than this API reads (${e.message}); send less, or raise BACKTRACK_API_BODY_LIMIT_BYTES`,
    );
  }
  if (
    isFastifyError(e) &&
    e.statusCode !== undefined &&
    e.statusCode >= 400 &&
    e.statusCode < 500
  ) {
    // Fastify's own refusals: malformed JSON, a body too large, an unsupported media type.
    return invalidInput(`the request is invalid: ${e.message}`, {
      in: 'request',
      path: '(root)',
      message: e.message,
    });
  }
  log.error({ err: e, requestId: request.id }, 'internal error');
  return new BacktrackError(
    'INTERNAL',
    `an internal error occurred; the operators' log has the details under request id ${request.id}`,
  );
}
