/**
 * Per-test isolation, by test identity: each fixture is created when a test asks for it
 * and removed after it, whatever the outcome.
 *   - `source`: a schema in the source database, plus publication and slot names (the slot,
 *     if the test creates it, is always dropped: a leaked slot pins WAL);
 *   - `catalog`: a catalog database cloned from the migrated template;
 *   - `kafka`: a topic prefix (its topics are deleted afterwards);
 *   - `s3`: an object store under its own key prefix (emptied afterwards).
 */
import { randomBytes } from 'node:crypto';

import { inject, test as base } from 'vitest';

import { type Config, loadConfig, requireSection } from '../../shared/config/index.js';
import { createKafka, type KafkaPort } from '../../shared/kafka/index.js';
import { createLogger, type Logger } from '../../shared/logging.js';
import { createPgPool, type PgPool, quoteIdent, withPgConnection } from '../../shared/pg/index.js';
import { createObjectStore, type ObjectStore } from '../../shared/s3/index.js';

import type { TestStack } from './stack-settings.js';
import { waitFor } from './wait-for.js';

/** The source database as one test sees it. */
export interface SourceFixture {
  /** Connection string of the source database. */
  readonly url: string;
  /** This test's schema (created empty, dropped afterwards). */
  readonly schema: string;
  /** Names this test should use for its publication and slot (dropped afterwards). */
  readonly publication: string;
  readonly slot: string;
  /** A pool on the source database. */
  readonly pool: PgPool;
  /** Runs SQL with `search_path` set to this test's schema. */
  exec(sql: string, params?: readonly unknown[]): Promise<void>;
}

/** A catalog database of this test's own. */
export interface CatalogFixture {
  readonly url: string;
  readonly database: string;
  readonly pool: PgPool;
}

/** Kafka under this test's topic prefix. */
export interface KafkaFixture {
  readonly port: KafkaPort;
  readonly brokers: readonly string[];
  /** Prefix of every topic this test creates. */
  readonly topicPrefix: string;
}

/** Object storage under this test's key prefix. */
export interface S3Fixture {
  readonly store: ObjectStore;
}

interface Fixtures {
  testId: string;
  stack: TestStack;
  config: Config;
  log: Logger;
  source: SourceFixture;
  catalog: CatalogFixture;
  kafka: KafkaFixture;
  s3: S3Fixture;
}

/** A short identifier from the test's name, safe for schemas, slots, topics and keys. */
function testIdOf(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 20);
  return `t_${slug}_${randomBytes(3).toString('hex')}`;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function dropSlot(adminUrl: string, slot: string): Promise<void> {
  await withPgConnection(adminUrl, 'backtrack-harness', async (db) => {
    const exists = async (): Promise<boolean> =>
      (await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])).rowCount >
      0;
    if (!(await exists())) return;
    await db.query(
      'SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL',
      [slot],
    );
    await waitFor(
      async () =>
        (
          await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [
            slot,
          ])
        ).rowCount === 0,
      { timeoutMs: 10_000, what: `slot ${slot} to become inactive` },
    );
    await db.query(
      'SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
  });
}

/** The vitest `test` with Backtrack's fixtures. */
export const test = base.extend<Fixtures>({
  // eslint-disable-next-line no-empty-pattern
  stack: async ({}, use) => {
    await use(inject('testStack'));
  },

  testId: async ({ task }, use) => {
    await use(testIdOf(task.name));
  },

  config: async ({ stack }, use) => {
    await use(loadConfig(stack.settings));
  },

  // eslint-disable-next-line no-empty-pattern
  log: async ({}, use) => {
    await use(
      createLogger({ level: process.env.BACKTRACK_TEST_LOG_LEVEL ?? 'silent', name: 'test' }),
    );
  },

  source: async ({ config, stack, testId }, use) => {
    const { url } = requireSection(config, 'source', 'test');
    const schema = testId;
    const pool = createPgPool(url, { applicationName: `test-${testId}`, max: 4 });
    await pool.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
    const fixture: SourceFixture = {
      url,
      schema,
      publication: `${testId}_pub`,
      slot: `${testId}_slot`,
      pool,
      exec: async (sql, params) => {
        await pool.transaction(async (session) => {
          await session.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
          await session.query(sql, params);
        });
      },
    };
    try {
      await use(fixture);
    } finally {
      await dropSlot(stack.adminUrl, fixture.slot);
      await pool.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(fixture.publication)}`);
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      await pool.end();
    }
  },

  catalog: async ({ stack, testId }, use) => {
    const database = `cat_${testId}`;
    await withPgConnection(stack.adminUrl, 'backtrack-harness', (db) =>
      db.query(
        `CREATE DATABASE ${quoteIdent(database)} TEMPLATE ${quoteIdent(stack.catalogTemplate)}`,
      ),
    );
    const url = withDatabase(stack.adminUrl, database);
    const pool = createPgPool(url, { applicationName: `test-${testId}`, max: 4 });
    try {
      await use({ url, database, pool });
    } finally {
      await pool.end();
      await withPgConnection(stack.adminUrl, 'backtrack-harness', (db) =>
        db.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`),
      );
    }
  },

  kafka: async ({ config, log, testId }, use) => {
    const { brokers } = requireSection(config, 'kafka', 'test');
    const port = createKafka({ brokers, clientId: `test-${testId}`, log });
    const topicPrefix = testId;
    try {
      await use({ port, brokers, topicPrefix });
    } finally {
      const admin = await port.admin();
      try {
        const topics = await admin.listTopics();
        await admin.deleteTopics(topics.filter((t) => t.startsWith(topicPrefix)));
      } finally {
        await admin.disconnect();
      }
    }
  },

  s3: async ({ config, testId }, use) => {
    const s3 = requireSection(config, 's3', 'test');
    const root = createObjectStore(s3);
    const store = root.scoped(`tests/${testId}/`);
    try {
      await use({ store });
    } finally {
      const keys: string[] = [];
      for await (const object of store.list()) keys.push(object.key);
      await store.deleteMany(keys);
      root.destroy();
    }
  },
});

export { describe, expect } from 'vitest';
