/**
 * Global setup of the integration project. Finds the servers, in this order:
 *   1. servers named by environment variables (BACKTRACK_SOURCE_URL, BACKTRACK_KAFKA_BROKERS,
 *      BACKTRACK_S3_BUCKET…, or a BACKTRACK_CONFIG_FILE), the superuser URL in
 *      BACKTRACK_TEST_ADMIN_URL when the source role cannot create databases;
 *   2. the running local stack (infra/stack);
 *   3. testcontainers, when a Docker engine answers;
 *   4. otherwise it starts the local stack (left running for the next run; stop it with
 *      `npm run stack:down`).
 * Then it preflights each server and migrates the template catalog database once.
 */
import { existsSync } from 'node:fs';

import type { TestProject } from 'vitest/node';

import { STATE_FILE } from '../../infra/stack/paths.js';
import { readSettings } from '../../infra/stack/settings.js';
import { stackUp } from '../../infra/stack/stack.js';
import {
  defaultMigrationsDir,
  migrate,
  migrationsDigest,
  readMigrations,
} from '../../shared/catalog/migrate.js';
import { CONFIG_FILE_VARIABLE } from '../../shared/config/index.js';
import { createPgPool, withPgConnection } from '../../shared/pg/index.js';

import { dockerAnswers, startContainers } from './containers.js';
import { preflight } from './preflight.js';
import type { TestStack } from './stack-settings.js';

const log = (line: string): void => {
  process.stderr.write(`[harness] ${line}\n`);
};

/** BACKTRACK_* settings from BACKTRACK_CONFIG_FILE and the environment (which wins). */
function settingsFromEnv(): Record<string, string> | undefined {
  const env = process.env;
  const file = env[CONFIG_FILE_VARIABLE];
  const named: Record<string, string> = file ? readSettings(file) : {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('BACKTRACK_') || name.startsWith('BACKTRACK_TEST_')) continue;
    if (name === CONFIG_FILE_VARIABLE || value === undefined || value === '') continue;
    named[name] = value;
  }
  const hasServers =
    env[CONFIG_FILE_VARIABLE] !== undefined ||
    (env.BACKTRACK_SOURCE_URL !== undefined &&
      env.BACKTRACK_KAFKA_BROKERS !== undefined &&
      env.BACKTRACK_S3_BUCKET !== undefined);
  return hasServers ? named : undefined;
}

interface Servers {
  origin: TestStack['origin'];
  settings: Record<string, string>;
  adminUrl: string;
  stop?: () => Promise<void>;
}

async function findServers(): Promise<Servers> {
  const fromEnv = settingsFromEnv();
  if (fromEnv) {
    log('using the servers named by BACKTRACK_* environment variables');
    const adminUrl = process.env.BACKTRACK_TEST_ADMIN_URL ?? fromEnv.BACKTRACK_SOURCE_URL ?? '';
    return { origin: 'env', settings: fromEnv, adminUrl };
  }
  if (!existsSync(STATE_FILE) && (await dockerAnswers())) {
    log('a Docker engine answers: starting the stack with testcontainers');
    const containers = await startContainers();
    return {
      origin: 'containers',
      settings: containers.settings,
      adminUrl: containers.adminUrl,
      stop: () => containers.stop(),
    };
  }
  const up = await stackUp(log);
  log(
    up.reused
      ? 'using the running local stack'
      : 'started the local stack (stop it with `npm run stack:down`)',
  );
  return { origin: 'local', settings: up.settings, adminUrl: up.state.postgres.url };
}

/** Creates (once per set of migrations) a migrated database that tests clone. */
async function catalogTemplate(adminUrl: string): Promise<string> {
  const migrations = readMigrations(defaultMigrationsDir());
  const name = `bt_tpl_${migrationsDigest(migrations).slice(0, 12)}`;
  const created = await withPgConnection(adminUrl, 'backtrack-harness', async (db) => {
    const existing = await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (existing.rowCount > 0) return false;
    // Older templates (other migration sets) are dropped; clones of them are not ours.
    const stale = await db.query(
      `SELECT datname FROM pg_database WHERE datname LIKE 'bt\\_tpl\\_%'`,
    );
    for (const row of stale.rows)
      await db.query(`DROP DATABASE IF EXISTS "${String(row.datname)}" WITH (FORCE)`);
    await db.query(`CREATE DATABASE "${name}"`);
    return true;
  });
  if (created) {
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const pool = createPgPool(url.toString(), { applicationName: 'backtrack-harness', max: 1 });
    try {
      await migrate(pool, migrations);
    } finally {
      await pool.end();
    }
  }
  return name;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const servers = await findServers();
  await preflight(servers.settings, servers.adminUrl);
  const template = await catalogTemplate(servers.adminUrl);
  const testStack: TestStack = {
    origin: servers.origin,
    settings: servers.settings,
    adminUrl: servers.adminUrl,
    catalogTemplate: template,
  };
  project.provide('testStack', testStack);
  return async () => {
    await servers.stop?.();
  };
}
