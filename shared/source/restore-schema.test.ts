import { describe, expect, test } from 'vitest';

import {
  defaultTargetSchema,
  reservedSchemaProblem,
  tenantSchemaPrefix,
} from './restore-schema.js';

describe('restore target schemas', () => {
  test.each([
    'backtrack',
    'public',
    'information_schema',
    'pg_catalog',
    'pg_toast',
    'pg_foo',
    'Bad',
    '1x',
    '',
  ])('%j is refused', (name) => {
    expect(reservedSchemaProblem(name)).toBeDefined();
  });

  test('a plain new name passes', () => {
    expect(reservedSchemaProblem('restore_acme_before')).toBeUndefined();
    expect(reservedSchemaProblem('pgx')).toBeUndefined();
  });

  test('no tenant prefix starts another, even when their slugs agree', () => {
    const tenants = [
      'acme',
      'Acme',
      'acme-1',
      'acme_1',
      'acme__1',
      'ac',
      'a'.repeat(200),
      `${'a'.repeat(200)}b`,
      '',
      '!!!',
    ];
    const prefixes = tenants.map(tenantSchemaPrefix);
    expect(new Set(prefixes).size).toBe(tenants.length);
    for (const a of prefixes)
      for (const b of prefixes) if (a !== b) expect(b.startsWith(a), `${a} / ${b}`).toBe(false);
    for (const p of prefixes) {
      expect(p).toMatch(/^restore_[a-z0-9_]+_[0-9a-f]{8}__$/);
      expect(p.slice(0, -2)).not.toContain('__');
    }
  });

  test('the default name is the prefix and the time, a valid identifier of at most 63', () => {
    const name = defaultTargetSchema('a'.repeat(200), new Date('2026-12-06T09:15:00.123Z'));
    expect(name.endsWith('__20261206091500')).toBe(true);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(reservedSchemaProblem(name)).toBeUndefined();
    expect(defaultTargetSchema('acme', new Date('2026-12-06T09:15:00Z'))).toBe(
      'restore_acme_822b33ad__20261206091500',
    );
  });
});
