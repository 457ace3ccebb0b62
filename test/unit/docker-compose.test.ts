/**
 * docker-compose.yml and the local stack must hand Backtrack the same settings, and both
 * must be valid for the config schema.
 */
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { REPO_ROOT } from '../../infra/stack/paths.js';
import { STACK_SETTING_NAMES } from '../../infra/stack/settings.js';
import { CONFIG_VARIABLES, loadConfig } from '../../shared/config/index.js';

function record(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error('expected a mapping');
  return value as Record<string, unknown>;
}

const compose = record(parse(readFileSync(`${REPO_ROOT}/docker-compose.yml`, 'utf8')));
const settings = Object.fromEntries(
  Object.entries(record(compose['x-backtrack-settings'])).map(([name, value]) => [
    name,
    String(value),
  ]),
);
const services = record(compose.services);

describe('docker-compose.yml', () => {
  it('gives exactly the settings the local stack writes', () => {
    expect(Object.keys(settings).sort()).toEqual([...STACK_SETTING_NAMES].sort());
  });

  it('gives only variables the config schema knows, with values it accepts', () => {
    for (const name of Object.keys(settings)) expect(CONFIG_VARIABLES).toContain(name);
    const config = loadConfig(settings);
    expect(config.source?.url).toContain('@postgres:5432/');
    expect(config.kafka?.brokers).toEqual(['kafka:9092']);
    expect(config.s3).toMatchObject({
      bucket: 'backtrack',
      forcePathStyle: true,
      endpoint: 'http://minio:9000',
    });
  });

  it('runs Postgres 16 with logical decoding, Kafka in KRaft mode, and MinIO', () => {
    const postgres = record(services.postgres);
    expect(postgres.image).toBe('postgres:16');
    expect(postgres.command).toContain('wal_level=logical');
    const kafka = record(record(services.kafka).environment);
    expect(kafka.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(kafka.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR).toBe(1);
    expect(String(record(services.minio).image)).toMatch(/^minio\/minio:/);
  });
});
