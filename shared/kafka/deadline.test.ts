import { describe, expect, it } from 'vitest';

import { isBacktrackError, isRetriable } from '../errors.js';

import { withDeadline } from './index.js';

describe('withDeadline', () => {
  it('passes on what settles in time', async () => {
    await expect(withDeadline('a send', 1_000, Promise.resolve(7))).resolves.toBe(7);
    await expect(withDeadline('a send', 1_000, Promise.reject(new Error('no')))).rejects.toThrow(
      'no',
    );
  });

  it('fails what never settles as retriable KAFKA_UNAVAILABLE, naming the operation', async () => {
    const never = new Promise<never>(() => undefined);
    const error = await withDeadline('a commit', 20, never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isBacktrackError(error, 'KAFKA_UNAVAILABLE')).toBe(true);
    expect(isRetriable(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/did not answer a commit within 20 ms/);
  });
});
