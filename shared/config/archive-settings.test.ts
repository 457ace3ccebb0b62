import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { loadConfig } from './load.js';

const minimal = {
  BACKTRACK_SOURCE_URL: 'postgres://app:secret@db:5432/app',
  BACKTRACK_KAFKA_BROKERS: 'k1:9092',
  BACKTRACK_S3_BUCKET: 'backtrack-prod',
};

describe('archive, snapshot and encryption settings', () => {
  it('have defaults: a one-minute RPO, no encryption, no failpoints', () => {
    const config = loadConfig(minimal);
    expect(config.archiver).toEqual({
      groupId: undefined,
      segmentMaxBytes: 16 * 1024 * 1024,
      segmentMaxAgeMs: 60_000,
      metricsHost: '127.0.0.1',
      metricsPort: 9465,
      sessionTimeoutMs: 30_000,
      compactionIntervalMs: 3_600_000,
      compactionTargetBytes: 64 * 1024 * 1024,
      compactionGraceMs: 86_400_000,
    });
    expect(config.snapshot).toEqual({
      compressionLevel: 1,
      partBytes: 8 * 1024 * 1024,
      concurrency: 2,
      preRestoreRetentionDays: 7,
    });
    expect(config.encryption).toBeUndefined();
    expect(config.failpoints).toEqual([]);
  });

  it('take a master key of 32 bytes, named by a fingerprint unless given an id', () => {
    const key = randomBytes(32);
    const config = loadConfig({ ...minimal, BACKTRACK_ENCRYPTION_KEY: key.toString('base64') });
    expect(config.encryption?.masterKey.equals(key)).toBe(true);
    expect(config.encryption?.keyId).toMatch(/^sha256:[0-9a-f]{16}$/);
    const named = loadConfig({
      ...minimal,
      BACKTRACK_ENCRYPTION_KEY: key.toString('base64'),
      BACKTRACK_ENCRYPTION_KEY_ID: 'prod-2026',
    });
    expect(named.encryption?.keyId).toBe('prod-2026');
  });

  it.each([
    [
      { BACKTRACK_ENCRYPTION_KEY: randomBytes(16).toString('base64') },
      /BACKTRACK_ENCRYPTION_KEY: must be the base64 of exactly 32 random bytes/,
    ],
    [{ BACKTRACK_ENCRYPTION_KEY: 'not base64!' }, /BACKTRACK_ENCRYPTION_KEY: must be the base64/],
    [
      { BACKTRACK_ENCRYPTION_KEY_ID: 'k1' },
      /BACKTRACK_ENCRYPTION_KEY_ID is set but BACKTRACK_ENCRYPTION_KEY is not/,
    ],
    [{ BACKTRACK_ARCHIVER_SEGMENT_MAX_AGE_MS: '10' }, /BACKTRACK_ARCHIVER_SEGMENT_MAX_AGE_MS/],
    [{ BACKTRACK_SNAPSHOT_PART_BYTES: '1024' }, /BACKTRACK_SNAPSHOT_PART_BYTES/],
    [
      { BACKTRACK_FAILPOINTS: 'Kill Me' },
      /BACKTRACK_FAILPOINTS: each failpoint must be name or name@N/,
    ],
  ])('refuse %j with a message naming the variable', (extra, message) => {
    expect(() => loadConfig({ ...minimal, ...extra })).toThrow(message);
  });

  it('read failpoints as a list', () => {
    const config = loadConfig({
      ...minimal,
      BACKTRACK_FAILPOINTS: 'archiver.after-upload, archiver.after-catalog@2',
    });
    expect(config.failpoints).toEqual(['archiver.after-upload', 'archiver.after-catalog@2']);
  });
});
