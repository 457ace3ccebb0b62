import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { BacktrackError } from '../errors.js';

import { loadConfig, requireSection } from './load.js';

const minimal = {
  BACKTRACK_SOURCE_URL: 'postgres://app:secret@db:5432/app',
  BACKTRACK_KAFKA_BROKERS: 'k1:9092, k2:9092',
  BACKTRACK_S3_BUCKET: 'backtrack-prod',
};

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(BacktrackError);
    expect((e as BacktrackError).code).toBe('CONFIG_INVALID');
    return (e as Error).message;
  }
  throw new Error('expected loadConfig to fail');
}

describe('loadConfig', () => {
  it('applies defaults and arranges sections', () => {
    const config = loadConfig(minimal);
    expect(config.logLevel).toBe('info');
    expect(config.source).toEqual({
      url: minimal.BACKTRACK_SOURCE_URL,
      tenantColumn: 'tenant_id',
      schemas: ['public'],
      tables: [],
      slot: 'backtrack_main',
      publication: 'backtrack_pub',
    });
    expect(config.catalog?.url).toBe(minimal.BACKTRACK_SOURCE_URL);
    expect(config.kafka).toEqual({
      brokers: ['k1:9092', 'k2:9092'],
      clientId: 'backtrack',
      topicPrefix: 'backtrack',
      txlogPartitions: 12,
    });
    expect(config.s3).toMatchObject({
      bucket: 'backtrack-prod',
      region: 'us-east-1',
      forcePathStyle: false,
      prefix: '',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('serves the unauthenticated metrics endpoints on loopback unless told otherwise', () => {
    const defaults = loadConfig(minimal);
    expect(defaults.capture.metricsHost).toBe('127.0.0.1');
    expect(defaults.archiver.metricsHost).toBe('127.0.0.1');
    const configured = loadConfig({
      ...minimal,
      BACKTRACK_CAPTURE_METRICS_HOST: '0.0.0.0',
      BACKTRACK_ARCHIVER_METRICS_HOST: '10.0.0.7',
    });
    expect(configured.capture.metricsHost).toBe('0.0.0.0');
    expect(configured.archiver.metricsHost).toBe('10.0.0.7');
  });

  it('ignores variables outside BACKTRACK_* and treats empty ones as unset', () => {
    const config = loadConfig({ ...minimal, PATH: '/bin', BACKTRACK_CATALOG_URL: '' });
    expect(config.catalog?.url).toBe(minimal.BACKTRACK_SOURCE_URL);
  });

  it('leaves a section out when its required variable is absent, and says what to set', () => {
    const config = loadConfig({ BACKTRACK_SOURCE_URL: minimal.BACKTRACK_SOURCE_URL });
    expect(config.kafka).toBeUndefined();
    expect(() => requireSection(config, 'kafka', 'capture')).toThrow(
      '`backtrack capture` needs kafka: set BACKTRACK_KAFKA_BROKERS (e.g. host1:9092,host2:9092)',
    );
    expect(requireSection(config, 'source', 'capture').slot).toBe('backtrack_main');
  });

  it.each([
    [
      { BACKTRACK_SOURCE_URL: 'mysql://x' },
      'BACKTRACK_SOURCE_URL: must be a postgres:// or postgresql:// connection string',
    ],
    [{ BACKTRACK_TXLOG_PARTITIONS: 'twelve' }, 'BACKTRACK_TXLOG_PARTITIONS:'],
    [{ BACKTRACK_TXLOG_PARTITIONS: '0' }, 'BACKTRACK_TXLOG_PARTITIONS:'],
    [
      { BACKTRACK_KAFKA_BROKERS: 'localhost' },
      'BACKTRACK_KAFKA_BROKERS: each broker must be host:port',
    ],
    [
      { BACKTRACK_CAPTURE_SLOT: 'Bad-Slot' },
      'BACKTRACK_CAPTURE_SLOT: must be a lower-case Postgres identifier',
    ],
    [
      { BACKTRACK_CAPTURE_TABLES: 'orders' },
      'BACKTRACK_CAPTURE_TABLES: each table must be written schema.table',
    ],
    [{ BACKTRACK_S3_PREFIX: 'prod' }, 'BACKTRACK_S3_PREFIX: must be empty or end with a slash'],
    [{ BACKTRACK_S3_FORCE_PATH_STYLE: 'maybe' }, 'BACKTRACK_S3_FORCE_PATH_STYLE:'],
    [{ BACKTRACK_LOG_LEVEL: 'verbose' }, 'BACKTRACK_LOG_LEVEL:'],
    [
      { BACKTRACK_KAFKA_BROKER: 'k:9092' },
      'BACKTRACK_KAFKA_BROKER: not a Backtrack setting; did you mean BACKTRACK_KAFKA_BROKERS?',
    ],
    [{ BACKTRACK_S3_ACCESS_KEY_ID: 'id' }, 'must be set together'],
  ])('refuses %j naming the variable', (env, message) => {
    expect(configError(env)).toContain(message);
  });

  it('lists every wrong variable at once', () => {
    const message = configError({ BACKTRACK_SOURCE_URL: 'x', BACKTRACK_TXLOG_PARTITIONS: '-1' });
    expect(message).toContain('BACKTRACK_SOURCE_URL');
    expect(message).toContain('BACKTRACK_TXLOG_PARTITIONS');
  });

  it('reads a config file, with the environment taking precedence', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backtrack-config-'));
    const file = join(dir, 'backtrack.env');
    writeFileSync(
      file,
      `# comment\nBACKTRACK_SOURCE_URL=postgres://file/db\nBACKTRACK_TOPIC_PREFIX=from-file\n`,
    );
    const config = loadConfig({
      BACKTRACK_CONFIG_FILE: file,
      BACKTRACK_TOPIC_PREFIX: 'from-env',
      BACKTRACK_KAFKA_BROKERS: 'k:1',
    });
    expect(config.source?.url).toBe('postgres://file/db');
    expect(config.kafka?.topicPrefix).toBe('from-env');
    expect(configError({ BACKTRACK_CONFIG_FILE: join(dir, 'absent.env') })).toContain(
      'BACKTRACK_CONFIG_FILE: cannot read',
    );
  });
});
