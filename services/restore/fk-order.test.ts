import { describe, expect, it } from 'vitest';

import { type ForeignKey, loadOrder } from './fk-order.js';

const fk = (child: string, parent: string, deferrable = false): ForeignKey => ({
  name: `${child}_${parent}_fkey`,
  child,
  parent,
  deferrable,
});

describe('loadOrder', () => {
  it('loads parents before children and empties in reverse', () => {
    const order = loadOrder(
      ['app.order_lines', 'app.orders', 'app.customers', 'app.products'],
      [
        fk('app.orders', 'app.customers'),
        fk('app.order_lines', 'app.orders'),
        fk('app.order_lines', 'app.products'),
      ],
    );
    const at = (t: string) => order.load.indexOf(t);
    expect(at('app.customers')).toBeLessThan(at('app.orders'));
    expect(at('app.orders')).toBeLessThan(at('app.order_lines'));
    expect(at('app.products')).toBeLessThan(at('app.order_lines'));
    expect(order.empty).toEqual([...order.load].reverse());
    expect(order.deferredCycles).toEqual([]);
    expect(order.refusedCycles).toEqual([]);
  });

  it('ignores keys to tables outside the restore and self-references', () => {
    const order = loadOrder(['app.b', 'app.a'], [fk('app.a', 'app.outside'), fk('app.b', 'app.b')]);
    expect(order.load).toEqual(['app.a', 'app.b']);
    expect(order.refusedCycles).toEqual([]);
  });

  it('defers a cycle whose keys are all deferrable', () => {
    const order = loadOrder(
      ['app.a', 'app.b', 'app.c'],
      [fk('app.a', 'app.b', true), fk('app.b', 'app.a', true), fk('app.c', 'app.a')],
    );
    expect(order.deferredCycles).toEqual([['app.a', 'app.b']]);
    expect(order.load.indexOf('app.c')).toBeGreaterThan(order.load.indexOf('app.a'));
  });

  it('refuses a cycle with a key that cannot be deferred, naming its tables', () => {
    const order = loadOrder(
      ['app.x', 'app.y'],
      [fk('app.x', 'app.y', true), fk('app.y', 'app.x', false)],
    );
    expect(order.refusedCycles).toEqual([['app.x', 'app.y']]);
  });
});
