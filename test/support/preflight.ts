/**
 * Checks, before any integration test runs, that each server answers and is configured as
 * Backtrack needs; a failure names the server, its address, and the command that starts it.
 */
import { type Config, loadConfig, requireSection } from '../../shared/config/index.js';
import { createKafka } from '../../shared/kafka/index.js';
import { withTimeout } from '../../shared/lifecycle.js';
import { silentLogger } from '../../shared/logging.js';
import { identifySystem, withPgConnection } from '../../shared/pg/index.js';
import { createObjectStore } from '../../shared/s3/index.js';

/** A server that does not answer within this is reported as down. */
const CHECK_TIMEOUT_MS = 20_000;

const HOW_TO_START = 'start the local stack with `npm run stack:up` (or `make stack-up`)';

interface Check {
  readonly server: string;
  readonly where: string;
  run(): Promise<void>;
}

function postgresCheck(config: Config, adminUrl: string): Check {
  const source = requireSection(config, 'source', 'test');
  return {
    server: 'PostgreSQL',
    where: new URL(source.url).host,
    run: async () => {
      const walLevel = await withPgConnection(adminUrl, 'backtrack-preflight', async (db) => {
        const result = await db.query('SHOW wal_level');
        return result.rows[0]?.wal_level;
      });
      if (walLevel !== 'logical') throw new Error(`wal_level is ${String(walLevel)}, not logical`);
      await identifySystem(source.url);
    },
  };
}

function kafkaCheck(config: Config): Check {
  const kafka = requireSection(config, 'kafka', 'test');
  return {
    server: 'Kafka',
    where: kafka.brokers.join(','),
    run: async () => {
      const admin = await createKafka({
        brokers: kafka.brokers,
        clientId: 'backtrack-preflight',
        log: silentLogger(),
        retries: 1,
        connectionTimeoutMs: 3_000,
      }).admin();
      try {
        await admin.describeCluster();
      } finally {
        await admin.disconnect();
      }
    },
  };
}

function s3Check(config: Config): Check {
  const s3 = requireSection(config, 's3', 'test');
  return {
    server: 'an S3-compatible server',
    where: s3.endpoint ?? 'AWS',
    run: async () => {
      const store = createObjectStore(s3);
      try {
        await store.listBuckets();
        await store.ensureBucket();
      } finally {
        store.destroy();
      }
    },
  };
}

async function runCheck(check: Check): Promise<void> {
  try {
    await withTimeout(check.run(), CHECK_TIMEOUT_MS, 'the check');
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new Error(
      `integration tests need ${check.server} at ${check.where}, but: ${reason}. ${HOW_TO_START}`,
      { cause: e },
    );
  }
}

/** Checks every server; throws the first failure with the command to fix it. */
export async function preflight(
  settings: Readonly<Record<string, string>>,
  adminUrl: string,
): Promise<Config> {
  const config = loadConfig(settings);
  await Promise.all(
    [postgresCheck(config, adminUrl), kafkaCheck(config), s3Check(config)].map(runCheck),
  );
  return config;
}
