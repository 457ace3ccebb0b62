import { defineConfig } from 'vitest/config';

// The pinned AWS SDK supports Node 20; its notice concerns releases after January 2027.
// Set here so the global setup (which runs in this process) is quiet too.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Tests that stop a server of their own under load: they run last, one at a time, so the
// restart they measure is not slowed by the rest of the suite sharing the cores.
const OUTAGE_TESTS = [
  'test/integration/capture/capture.slot-safety.int.test.ts',
  'test/integration/capture/capture.commit-path-faults.int.test.ts',
  'test/integration/archiver/archive.s3-outage.int.test.ts',
];
const integration = {
  globalSetup: ['test/support/global-setup.ts'],
  testTimeout: 120_000,
  hookTimeout: 180_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: [
            'services/**/*.test.ts',
            'shared/**/*.test.ts',
            'infra/**/*.test.ts',
            'test/unit/**/*.test.ts',
          ],
          exclude: ['**/*.int.test.ts', 'node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          // Unit tests first: they fail in seconds.
          sequence: { groupOrder: 1 },
          include: ['test/**/*.int.test.ts'],
          exclude: [...OUTAGE_TESTS, 'node_modules/**'],
          ...integration,
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: 'outage',
          sequence: { groupOrder: 2 },
          include: OUTAGE_TESTS,
          ...integration,
          maxWorkers: 1,
        },
      },
    ],
  },
});
