import { describe, expect, it } from 'vitest';

import { BacktrackError, type ErrorCode } from './errors.js';
import { failedCheckOf } from './health.js';

const ADDRESS_IN_MESSAGE =
  'cannot reach it at 10.0.0.7:5432/app (connect ECONNREFUSED 10.0.0.7:5432); check the URL';

describe('failedCheckOf', () => {
  it.each<[ErrorCode, Record<string, string>]>([
    ['SOURCE_UNAVAILABLE', { source: 'unreachable' }],
    ['SOURCE_NOT_READY', { source: 'misconfigured' }],
    ['SLOT_IN_USE', { source: 'busy' }],
    ['CATALOG_UNAVAILABLE', { catalog: 'unreachable' }],
    ['KAFKA_UNAVAILABLE', { kafka: 'unreachable' }],
    ['KAFKA_REFUSED', { kafka: 'refused' }],
    ['STORAGE_UNAVAILABLE', { storage: 'unreachable' }],
    ['STORAGE_NOT_FOUND', { storage: 'misconfigured' }],
    ['CONFIG_INVALID', { config: 'misconfigured' }],
    ['PROTOCOL_VIOLATION', {}],
    ['INTERNAL', {}],
  ])('%s fails %j, whatever its message says', (code, expected) => {
    const failed = failedCheckOf(new BacktrackError(code, ADDRESS_IN_MESSAGE));
    expect(failed).toEqual(expected);
    expect(JSON.stringify(failed)).not.toMatch(/10\.0\.0\.7|5432|ECONNREFUSED/);
  });

  it.each([
    ['no error', undefined],
    ['a raw network error', Object.assign(new Error(ADDRESS_IN_MESSAGE), { code: 'ECONNREFUSED' })],
    ['a string', ADDRESS_IN_MESSAGE],
  ])('names no check for %s', (_what, e) => {
    expect(failedCheckOf(e)).toEqual({});
  });
});
