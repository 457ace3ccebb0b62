import { describe, expect, it, vi } from 'vitest';

import { BacktrackError } from './errors.js';
import { backoffDelay, retry } from './retry.js';

const fast = { initialMs: 1, maxMs: 4, maxAttempts: 4 };

describe('backoffDelay', () => {
  it.each([
    [1, 1, 100],
    [2, 1, 200],
    [3, 1, 400],
    [10, 1, 1000],
    [3, 0.5, 200],
    [3, 0, 0],
  ])('attempt %i with draw %f waits %i ms (full jitter, capped)', (attempt, draw, expected) => {
    expect(backoffDelay(attempt, { initialMs: 100, maxMs: 1000 }, () => draw)).toBe(expected);
  });
});

describe('retry', () => {
  it('retries retriable errors until the operation succeeds', async () => {
    const operation = vi
      .fn<() => Promise<string>>()
      .mockRejectedValueOnce(new BacktrackError('KAFKA_UNAVAILABLE', 'down'))
      .mockRejectedValueOnce(new BacktrackError('KAFKA_UNAVAILABLE', 'down'))
      .mockResolvedValue('ok');
    const onRetry = vi.fn();
    await expect(retry(operation, { policy: fast, onRetry })).resolves.toBe('ok');
    expect(operation).toHaveBeenCalledTimes(3);
    expect(onRetry).toHaveBeenCalledTimes(2);
  });

  it('stops at once on a non-retriable error', async () => {
    const fatal = new BacktrackError('CONFIG_INVALID', 'bad');
    const operation = vi.fn<() => Promise<string>>().mockRejectedValue(fatal);
    await expect(retry(operation, { policy: fast })).rejects.toBe(fatal);
    expect(operation).toHaveBeenCalledTimes(1);
  });

  it('gives up after the last attempt with the last error', async () => {
    const operation = vi
      .fn<() => Promise<string>>()
      .mockRejectedValue(new BacktrackError('STORAGE_UNAVAILABLE', 'x'));
    await expect(retry(operation, { policy: fast })).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
    });
    expect(operation).toHaveBeenCalledTimes(4);
  });

  it('stops retrying once aborted', async () => {
    const controller = new AbortController();
    const operation = vi.fn<() => Promise<string>>().mockImplementation(() => {
      controller.abort();
      return Promise.reject(new BacktrackError('KAFKA_UNAVAILABLE', 'down'));
    });
    await expect(
      retry(operation, { policy: fast, signal: controller.signal }),
    ).rejects.toMatchObject({
      code: 'KAFKA_UNAVAILABLE',
    });
    expect(operation).toHaveBeenCalledTimes(1);
  });
});
