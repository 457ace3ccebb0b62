import { describe, expect, it } from 'vitest';

import { connectionSettings } from './session-settings.js';

describe('connectionSettings', () => {
  it('pins TimeZone, DateStyle and IntervalStyle for every session', () => {
    const { connectionString, options } = connectionSettings('postgres://u:p@h:5432/db');
    expect(connectionString).toBe('postgres://u:p@h:5432/db');
    expect(options).toContain('-c TimeZone=UTC');
    expect(options).toContain('-c DateStyle=ISO,MDY');
    expect(options).toContain('-c IntervalStyle=postgres');
  });

  it("keeps the string's own options, ours after them, and takes them out of the string", () => {
    const { connectionString, options } = connectionSettings(
      'postgres://u:p@h:5432/db?sslmode=disable&options=-c%20wal_sender_timeout%3D2s%20-c%20TimeZone%3DAsia%2FTokyo',
    );
    expect(connectionString).toBe('postgres://u:p@h:5432/db?sslmode=disable');
    expect(options.startsWith('-c wal_sender_timeout=2s -c TimeZone=Asia/Tokyo ')).toBe(true);
    expect(options.lastIndexOf('TimeZone=UTC')).toBeGreaterThan(
      options.indexOf('TimeZone=Asia/Tokyo'),
    );
  });
});
