import { describe, expect, it } from 'vitest';

import { BacktrackError, ERROR_CODES, isRetriable } from './errors.js';

/** An error shaped like the driver's, with a SQLSTATE. */
const pgError = (code: string) => Object.assign(new Error(`sqlstate ${code}`), { code });

describe('isRetriable', () => {
  it.each([
    ['a serialization failure (40001)', pgError('40001'), true],
    ['a deadlock (40P01)', pgError('40P01'), true],
    ['cannot connect now (57P03)', pgError('57P03'), true],
    ['admin shutdown (57P01)', pgError('57P01'), true],
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      true,
    ],
    ['a terminated connection', new Error('Connection terminated unexpectedly'), true],
    ['an authentication failure (28P01)', pgError('28P01'), false],
    ['an invalid authorization (28000)', pgError('28000'), false],
    ['a syntax error (42601)', pgError('42601'), false],
    ['a unique violation (23505)', pgError('23505'), false],
    [
      'a kafkajs retriable error',
      Object.assign(new Error('leader not available'), { retriable: true }),
      true,
    ],
    [
      'a kafkajs fatal error',
      Object.assign(new Error('topic authorization failed'), { retriable: false }),
      false,
    ],
    [
      'a librdkafka retriable error (a commit that timed out)',
      Object.assign(new Error('timed out'), {
        code: -185,
        isFatal: false,
        isRetriable: true,
        isTxnRequiresAbort: false,
      }),
      true,
    ],
    [
      'a librdkafka error that requires aborting the transaction',
      Object.assign(new Error('message timed out'), {
        code: -185,
        isFatal: false,
        isRetriable: false,
        isTxnRequiresAbort: true,
      }),
      true,
    ],
    [
      'a librdkafka fatal error (producer fenced)',
      Object.assign(new Error('fenced'), {
        code: 90,
        isFatal: true,
        isRetriable: false,
        isTxnRequiresAbort: false,
      }),
      false,
    ],
    [
      'an AWS 503',
      Object.assign(new Error('slow down'), { $metadata: { httpStatusCode: 503 } }),
      true,
    ],
    [
      'an AWS 403',
      Object.assign(new Error('denied'), { $metadata: { httpStatusCode: 403 } }),
      false,
    ],
    ['our retriable code', new BacktrackError('KAFKA_UNAVAILABLE', 'down'), true],
    ['our fatal code', new BacktrackError('CONFIG_INVALID', 'bad'), false],
    [
      'our code with an override',
      new BacktrackError('INTERNAL', 'flaky', { retriable: true }),
      true,
    ],
    ['a wrapped retriable cause', new Error('outer', { cause: pgError('40001') }), true],
    ['a plain programming error', new TypeError('x is undefined'), false],
    ['a string', 'oops', false],
    ['null', null, false],
  ])('%s → %s', (_, error, expected) => {
    expect(isRetriable(error)).toBe(expected);
  });
});

describe('BacktrackError', () => {
  it('carries code, details, cause and the registry default for retriable', () => {
    const cause = new Error('root');
    const error = new BacktrackError('RESTORE_IN_PROGRESS', 'tenant acme is being restored', {
      details: { tenant: 'acme' },
      cause,
    });
    expect(error.code).toBe('RESTORE_IN_PROGRESS');
    expect(error.retriable).toBe(false);
    expect(error.details).toEqual({ tenant: 'acme' });
    expect(error.cause).toBe(cause);
    expect(ERROR_CODES[error.code].httpStatus).toBe(409);
  });

  it('maps the API codes of DESIGN §2.7 to their statuses', () => {
    expect(
      Object.fromEntries(
        (
          [
            'AUTH_REQUIRED',
            'INSUFFICIENT_PERMISSIONS',
            'VALIDATION_FAILED',
            'TENANT_NOT_FOUND',
            'BACKUP_NOT_FOUND',
            'SNAPSHOT_NOT_FOUND',
            'RESTORE_IN_PROGRESS',
            'RATE_LIMIT_EXCEEDED',
          ] as const
        ).map((code) => [code, ERROR_CODES[code].httpStatus]),
      ),
    ).toEqual({
      AUTH_REQUIRED: 401,
      INSUFFICIENT_PERMISSIONS: 403,
      VALIDATION_FAILED: 400,
      TENANT_NOT_FOUND: 404,
      BACKUP_NOT_FOUND: 404,
      SNAPSHOT_NOT_FOUND: 404,
      RESTORE_IN_PROGRESS: 409,
      RATE_LIMIT_EXCEEDED: 429,
    });
  });
});
