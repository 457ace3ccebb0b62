import { describe, expect, it } from 'vitest';

import { Mutex } from './mutex.js';

describe('Mutex', () => {
  it('runs holders one at a time, in order, even when one fails', async () => {
    const mutex = new Mutex();
    const events: string[] = [];
    const holder = (name: string, fail = false) =>
      mutex.run(async () => {
        events.push(`${name} in`);
        await new Promise((r) => setTimeout(r, 5));
        events.push(`${name} out`);
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([holder('a'), holder('b', true), holder('c')]);
    expect(events).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });
});
