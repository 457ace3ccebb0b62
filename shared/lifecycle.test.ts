import { describe, expect, it } from 'vitest';

import { composeServices, service, withTimeout } from './lifecycle.js';

describe('service', () => {
  it('stops once however often stop() is called', async () => {
    let stops = 0;
    const s = service('thing', () => {
      stops += 1;
      return Promise.resolve();
    });
    await Promise.all([s.stop(), s.stop()]);
    await s.stop();
    expect(stops).toBe(1);
  });

  it('gives up on a stop that hangs', async () => {
    const s = service('stuck', () => new Promise<void>(() => undefined), 20);
    await expect(s.stop()).rejects.toThrow('stopping stuck did not finish within 20 ms');
  });
});

describe('composeServices', () => {
  it('stops parts in reverse order, all of them even when one fails, and reports the failure', async () => {
    const order: string[] = [];
    const part = (name: string, fail = false) =>
      service(name, () => {
        order.push(name);
        return fail ? Promise.reject(new Error(`${name} failed`)) : Promise.resolve();
      });
    const all = composeServices('all', [part('first'), part('second', true), part('third')]);
    await expect(all.stop()).rejects.toThrow('second failed');
    expect(order).toEqual(['third', 'second', 'first']);
  });
});

describe('withTimeout', () => {
  it('returns the value of a promise that settles in time', async () => {
    await expect(withTimeout(Promise.resolve(7), 50, 'quick')).resolves.toBe(7);
  });
});
