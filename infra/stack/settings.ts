/**
 * The settings the stack writes for the harness and the CLI: plain `BACKTRACK_*=value`
 * lines, read by `loadConfig` through BACKTRACK_CONFIG_FILE. docker-compose.yml gives the
 * same variables (a unit test checks both against the config schema).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/** Connection facts of a running stack. */
export interface StackEndpoints {
  readonly postgresUrl: string;
  readonly kafkaBootstrap: string;
  readonly s3Endpoint: string;
  readonly s3Bucket: string;
  readonly s3AccessKeyId: string;
  readonly s3SecretAccessKey: string;
}

/** The variables of the settings file, in the order they are written. */
export const STACK_SETTING_NAMES = [
  'BACKTRACK_SOURCE_URL',
  'BACKTRACK_CATALOG_URL',
  'BACKTRACK_KAFKA_BROKERS',
  'BACKTRACK_S3_ENDPOINT',
  'BACKTRACK_S3_REGION',
  'BACKTRACK_S3_BUCKET',
  'BACKTRACK_S3_ACCESS_KEY_ID',
  'BACKTRACK_S3_SECRET_ACCESS_KEY',
  'BACKTRACK_S3_FORCE_PATH_STYLE',
] as const;

type StackSettings = Record<(typeof STACK_SETTING_NAMES)[number], string>;

/** The settings of a stack. */
export function settingsOf(endpoints: StackEndpoints): StackSettings {
  return {
    BACKTRACK_SOURCE_URL: endpoints.postgresUrl,
    BACKTRACK_CATALOG_URL: endpoints.postgresUrl,
    BACKTRACK_KAFKA_BROKERS: endpoints.kafkaBootstrap,
    BACKTRACK_S3_ENDPOINT: endpoints.s3Endpoint,
    BACKTRACK_S3_REGION: 'us-east-1',
    BACKTRACK_S3_BUCKET: endpoints.s3Bucket,
    BACKTRACK_S3_ACCESS_KEY_ID: endpoints.s3AccessKeyId,
    BACKTRACK_S3_SECRET_ACCESS_KEY: endpoints.s3SecretAccessKey,
    BACKTRACK_S3_FORCE_PATH_STYLE: 'true',
  };
}

/** Writes the settings file (owner-readable only: it holds passwords). */
export function writeSettings(file: string, settings: StackSettings): void {
  const lines = [
    '# Connection settings of the local stack (infra/stack). Read with',
    '#   BACKTRACK_CONFIG_FILE=.stack/backtrack.env npm run backtrack -- <command>',
    ...STACK_SETTING_NAMES.map((name) => `${name}=${settings[name]}`),
    '',
  ];
  writeFileSync(file, lines.join('\n'), { mode: 0o600 });
}

/** Reads a settings file into a plain record. */
export function readSettings(file: string): Record<string, string> {
  const parsed = parseEnv(readFileSync(file, 'utf8'));
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) if (value !== undefined) result[name] = value;
  return result;
}
