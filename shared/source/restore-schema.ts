/**
 * The schema a restore into a new schema creates. It must be a plain lower-case identifier
 * that names no schema yet and none Postgres or Backtrack keeps for itself (`pg_*`,
 * `information_schema`, `public`, the catalog's `backtrack`). Each tenant has a namespace of
 * its own, `restore_<slug>_<hash>__`, in which the API lets its roles choose names: one
 * tenant can neither create a schema in another's namespace nor learn whether one exists.
 */
import { createHash } from 'node:crypto';

import { type BacktrackError, invalidInput } from '../errors.js';
import type { Queryable } from '../pg/index.js';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schemas a restore never creates, whether they exist here or not. */
const RESERVED = new Set(['information_schema', 'public', 'backtrack']);

/** Why `schema` is not a name a restore may create, or undefined when it may be. */
export function reservedSchemaProblem(schema: string): string | undefined {
  if (!IDENTIFIER.test(schema))
    return 'must be a lower-case identifier (letters, digits, underscore; at most 63)';
  if (schema.startsWith('pg_')) return 'starts with pg_, which Postgres reserves for itself';
  if (RESERVED.has(schema))
    return `is ${schema === 'backtrack' ? "Backtrack's catalog" : "one of Postgres' own schemas"}`;
  return undefined;
}

/**
 * The prefix of the schemas a tenant's restores may create: a readable slug of the tenant
 * id, a hash that tells apart tenants with the same slug, and `__`, which no slug holds, so
 * that no tenant's prefix starts another's.
 */
export function tenantSchemaPrefix(tenant: string): string {
  const slug =
    tenant
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 30)
      .replace(/_+$/, '') || 'tenant';
  const hash = createHash('sha256').update(tenant).digest('hex').slice(0, 8);
  return `restore_${slug}_${hash}__`;
}

/** The schema a restore of `tenant` at `now` creates when it was not given one. */
export function defaultTargetSchema(tenant: string, now: Date): string {
  return `${tenantSchemaPrefix(tenant)}${now.toISOString().replace(/\D/g, '').slice(0, 14)}`;
}

/** The refusal of `schema` as a restore's target schema, for `problem`. */
export const targetSchemaRefused = (schema: string, problem: string): BacktrackError =>
  invalidInput(`target schema ${JSON.stringify(schema)} ${problem}`, {
    in: 'body',
    path: 'targetSchema',
    message: problem,
  });

/**
 * Refuses a schema a restore may not create: reserved, not a plain identifier, or existing
 * (nothing is ever replaced). Dry runs check it too, so a preview never promises a restore
 * that would fail.
 */
export async function checkTargetSchema(source: Queryable, schema: string): Promise<void> {
  const problem = reservedSchemaProblem(schema);
  if (problem !== undefined) throw targetSchemaRefused(schema, `${problem}; choose another name`);
  const existing = await source.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (existing.rowCount > 0)
    throw targetSchemaRefused(
      schema,
      'already exists; Backtrack restores into a new schema only: choose another name, or drop it first',
    );
}
