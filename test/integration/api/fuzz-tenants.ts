/**
 * The two tenants of the fuzz run, each with one resource of every kind, created the way
 * a client would: base snapshots (a full one and a pre-restore one) by the snapshotter,
 * and through the API a backup job, a restore job (queued: the API runs without workers),
 * a schedule, a DR plan and a DR test. Tenant A, whom the fuzzer's tokens belong to, keeps
 * no rows in the source (its few are deleted once snapshotted), so a restore has nothing
 * to damage; tenant B keeps a few, and its ids and names are what A's answers must never
 * show.
 */
import { z } from 'zod';

import type { SourceFixture } from '../../support/fixtures.js';
import type { RestoreEnvironment } from '../../support/restore.js';

import type { IdsByKind } from './fuzz-values.js';
import { type ApiClient, bodyOf, token } from './harness.js';

/** The names a tenant's resources get (B's are markers the checks search for). */
export interface TenantNames {
  readonly schedule: string;
  readonly plan: string;
  readonly drTest: string;
  readonly label: string;
}

/** A tenant's resources. */
export interface SeededTenant {
  readonly tenant: string;
  readonly ids: IdsByKind;
  readonly names: TenantNames;
}

const jobAccepted = z.object({ success: z.literal(true), jobId: z.uuid() });

/**
 * Creates one resource of every kind for `tenant`. Its `rows` are inserted first (a tenant
 * with no rows cannot be snapshotted) and, unless `keepRows`, deleted after the snapshots.
 */
export async function seedTenant(
  api: ApiClient,
  env: RestoreEnvironment,
  source: SourceFixture,
  tenant: string,
  names: TenantNames,
  rows: { readonly firstId: number; readonly count: number; readonly keepRows: boolean },
): Promise<SeededTenant> {
  await source.exec(
    `INSERT INTO accounts SELECT $1::int + g, $2, 'a' || g, 'pro' FROM generate_series(1, $3::int) g`,
    [rows.firstId, tenant, rows.count],
  );
  const backup = await env.snapshotter.take({ tenant, kind: 'full', createdBy: 'fuzz' });
  const preRestore = await env.snapshotter.take({ tenant, kind: 'pre_restore', createdBy: 'fuzz' });
  if (!rows.keepRows) await source.exec('DELETE FROM accounts WHERE tenant_id = $1', [tenant]);
  const operator = await token('operator', tenant);
  const admin = await token('admin', tenant);
  const job = bodyOf(
    await api.call('POST', '/v1/backups', { token: operator, json: { label: names.label } }),
    jobAccepted,
  ).jobId;
  const restore = bodyOf(
    await api.call('POST', '/v1/restores', {
      token: operator,
      json: { targetTimestamp: await env.now(), confirmRestore: true },
    }),
    jobAccepted,
  ).jobId;
  const schedule = bodyOf(
    await api.call('POST', '/v1/schedules', {
      token: admin,
      json: { name: names.schedule, cron: '0 3 * * *', timezone: 'UTC', jobType: 'snapshot' },
    }),
    z.object({ schedule: z.object({ id: z.uuid() }) }),
  ).schedule.id;
  const plan = bodyOf(
    await api.call('POST', '/v1/dr-plans', {
      token: admin,
      json: {
        name: names.plan,
        rtoMinutes: 60,
        rpoMinutes: 15,
        backupFrequency: '0 * * * *',
        testFrequency: '0 4 * * 1',
        retentionDays: 30,
      },
    }),
    z.object({ drPlan: z.object({ id: z.uuid() }) }),
  ).drPlan.id;
  const drTest = bodyOf(
    await api.call('POST', '/v1/dr-tests', {
      token: operator,
      json: { testName: names.drTest, drPlanId: plan },
    }),
    jobAccepted,
  ).jobId;
  return {
    tenant,
    names,
    ids: {
      jobs: [job, restore, drTest],
      backups: [backup.id],
      snapshots: [preRestore.id],
      restores: [restore],
      // A rollback is exclusive like the restore queued above: it would be refused.
      rollbacks: [],
      schedules: [schedule],
      'dr-plans': [plan],
      'dr-tests': [drTest],
    },
  };
}

/** Tenant A (no rows left) and tenant B (five rows), each with one resource of every kind. */
export async function seedTenants(
  api: ApiClient,
  env: RestoreEnvironment,
  source: SourceFixture,
  tenants: { readonly a: string; readonly b: string },
): Promise<{ a: SeededTenant; b: SeededTenant }> {
  const names = (who: string): TenantNames => ({
    schedule: `fuzz-${who}-nightly`,
    plan: `fuzz-${who}-gold`,
    drTest: `fuzz-${who}-quarterly`,
    label: `fuzz-${who}-label`,
  });
  return {
    a: await seedTenant(api, env, source, tenants.a, names('a'), {
      firstId: 0,
      count: 3,
      keepRows: false,
    }),
    b: await seedTenant(api, env, source, tenants.b, names('b'), {
      firstId: 1000,
      count: 5,
      keepRows: true,
    }),
  };
}
