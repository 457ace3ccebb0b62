import { describe, expect, it } from 'vitest';

import { BacktrackError, isRetriable } from '../errors.js';
import { TXLOG_MAX_MESSAGE_BYTES } from '../events/topics.js';

import { librdkafkaFailure, PRODUCER_MAX_MESSAGE_BYTES } from './librdkafka.js';

/** An error shaped like the binding's LibrdKafkaError. */
const rdError = (code: number, message: string, flags: Record<string, boolean> = {}) =>
  Object.assign(new Error(message), { code, errno: code, origin: 'kafka', ...flags });

describe('librdkafkaFailure', () => {
  it.each([
    [
      'a record too large for the topic',
      rdError(10, 'Broker: Message size too large'),
      'ERR_MSG_SIZE_TOO_LARGE',
    ],
    [
      'a refused topic',
      rdError(29, 'Broker: Topic authorization failed'),
      'ERR_TOPIC_AUTHORIZATION_FAILED',
    ],
    [
      'a refused transactional id',
      rdError(53, 'Broker: Transactional Id authorization failed', { isFatal: true }),
      'ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
    ],
    [
      'a partition the topic lacks',
      rdError(-190, 'Local: Unknown partition'),
      'ERR__UNKNOWN_PARTITION',
    ],
  ])('%s is KAFKA_REFUSED, never retried', (_, error, type) => {
    const failure = librdkafkaFailure(error, 'to take records into a transaction');
    expect(failure.code).toBe('KAFKA_REFUSED');
    expect(isRetriable(failure)).toBe(false);
    expect(failure.details?.type).toBe(type);
    expect(failure.message).toContain(`Kafka refused to take records into a transaction: ${type}`);
  });

  it.each([
    [
      'a commit that timed out',
      rdError(-185, 'Timed out', { isFatal: false, isRetriable: true, isTxnRequiresAbort: false }),
    ],
    [
      'a transaction that must be aborted',
      rdError(-185, '1 message(s) timed out', { isRetriable: false, isTxnRequiresAbort: true }),
    ],
    [
      'a fenced producer (a new one takes over)',
      rdError(-150, 'Local: Fatal error', { isFatal: true }),
    ],
    ['brokers down', rdError(-195, 'Local: Broker transport failure')],
    ['an operation in the wrong state', rdError(-172, 'Local: Erroneous state')],
    ['an error without a code', new Error('Producer not connected')],
  ])('%s is retriable KAFKA_UNAVAILABLE', (_, error) => {
    const failure = librdkafkaFailure(error, 'to commit a transaction');
    expect(failure.code).toBe('KAFKA_UNAVAILABLE');
    expect(isRetriable(failure)).toBe(true);
    expect(failure.cause).toBe(error);
  });

  it("keeps librdkafka's flags in the details", () => {
    const failure = librdkafkaFailure(
      rdError(-185, 'timed out', { isFatal: false, isRetriable: false, isTxnRequiresAbort: true }),
      'to commit a transaction',
    );
    expect(failure.details).toEqual({
      type: 'ERR__TIMED_OUT',
      code: -185,
      fatal: false,
      retriable: false,
      txnRequiresAbort: true,
    });
  });

  it('passes a BacktrackError on as it is', () => {
    const ours = new BacktrackError('INTERNAL', 'no partition');
    expect(librdkafkaFailure(ours, 'to send')).toBe(ours);
  });
});

describe('the producer', () => {
  it('sends records as large as the txlog topic accepts', () => {
    expect(PRODUCER_MAX_MESSAGE_BYTES).toBe(TXLOG_MAX_MESSAGE_BYTES);
  });
});
