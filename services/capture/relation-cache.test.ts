import { describe, expect, it } from 'vitest';

import { silentLogger } from '../../shared/logging.js';
import type { PgoutputMessage } from '../../shared/pg/index.js';

import { RelationCache, type RelationLookup } from './relation-cache.js';

type RelationMessage = Extract<PgoutputMessage, { tag: 'relation' }>;

const lookup = (missing: Record<string, string> = {}): RelationLookup => ({
  describe: (_oid, columns) =>
    Promise.resolve({
      typeNames: columns.map(() => 'text'),
      primaryKey: new Set(['id']),
      missing: new Map(Object.entries(missing)),
    }),
});

function relation(columns: string[]): RelationMessage {
  return {
    tag: 'relation',
    relationOid: 42,
    schema: 'app',
    name: 'accounts',
    replicaIdentity: 'full',
    columns: columns.map((name) => ({ name, typeOid: 25, typeMod: -1, isKey: true })),
  };
}

describe('RelationCache', () => {
  it('says a relation changed the first time a session sees it and after DDL, not when resent', async () => {
    const cache = new RelationCache(lookup(), 'tenant_id', silentLogger());
    expect((await cache.learn(relation(['id', 'tenant_id']))).changed).toBe(true);
    expect((await cache.learn(relation(['id', 'tenant_id']))).changed).toBe(false);
    const added = await cache.learn(relation(['id', 'tenant_id', 'tier']));
    expect(added.changed).toBe(true);
    expect(added.relation.tenantIndex).toBe(1);
  });

  it('counts a new missing value (ADD COLUMN … DEFAULT) as a change', async () => {
    let missing: Record<string, string> = {};
    const cache = new RelationCache(
      {
        describe: (oid, columns) => lookup(missing).describe(oid, columns),
      },
      'tenant_id',
      silentLogger(),
    );
    await cache.learn(relation(['id', 'tenant_id', 'tier']));
    missing = { tier: 'basic' };
    const learned = await cache.learn(relation(['id', 'tenant_id', 'tier']));
    expect(learned.changed).toBe(true);
    expect(learned.relation.version.columns.at(-1)?.missing).toBe('basic');
  });
});
