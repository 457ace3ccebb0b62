// Lint rules that carry the architecture: a service never imports another service,
// shared/ never imports a service, and the vendor SDKs are imported only by their port.
import { readdirSync } from 'node:fs';

import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const services = readdirSync(new URL('./services', import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

/** The composition root may reach each service through its public surface only. */
const COMPOSITION_ROOT = 'cli';

const serviceBoundaries = services.map((name) => ({
  target: `./services/${name}`,
  from: './services',
  except:
    name === COMPOSITION_ROOT
      ? [`./${name}`, ...services.filter((s) => s !== name).map((s) => `./${s}/index.ts`)]
      : [`./${name}`],
  message: 'A service never imports another service; move the shared part to shared/.',
}));

/** Vendor SDKs and the port that owns each. */
const vendorPorts = [
  { port: 'shared/pg', regex: '^(pg|pg-logical-replication|pg-copy-streams)(/.*)?$' },
  { port: 'shared/kafka', regex: '^(kafkajs|@confluentinc/kafka-javascript)(/.*)?$' },
  { port: 'shared/s3', regex: '^@aws-sdk/' },
];

const restrictVendors = (allowedPort) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: vendorPorts
        .filter(({ port }) => port !== allowedPort)
        .map(({ port, regex }) => ({
          regex,
          message: `Import this SDK through ${port} (its narrow port), not directly.`,
        })),
    },
  ],
});

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', '.stack/', 'infra/.jars/', 'coverage/', '.reports/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        projectService: {
          allowDefaultProject: ['*.js', 'bin/*.js'],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      // Resolvers in JavaScript only: the native-binding resolvers of later versions are
      // not installable from every registry mirror (npm ci then fails on the lock file).
      'import-x/resolver': { typescript: { alwaysTryTypes: true } },
      // no-cycle parses the imported files too; it needs to know how to read .ts.
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'import-x/no-cycle': 'error',
      'import-x/no-self-import': 'error',
      'import-x/order': [
        'error',
        {
          groups: ['builtin', 'external', 'internal', 'parent', 'sibling', 'index'],
          'newlines-between': 'always',
          alphabetize: { order: 'asc', caseInsensitive: true },
        },
      ],
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            ...serviceBoundaries,
            {
              target: './shared',
              from: './services',
              message: 'shared/ never imports a service.',
            },
          ],
        },
      ],
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
      ...restrictVendors(null),
    },
  },
  ...vendorPorts.map(({ port }) => ({
    files: [`${port}/**/*.ts`],
    rules: restrictVendors(port),
  })),
  {
    // Command-line entry points and scripts talk to a terminal.
    files: [
      'services/*/main.ts',
      'services/cli/**/*.ts',
      'infra/**/*.ts',
      'bench/**/*.ts',
      'bin/*.js',
    ],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  prettier,
);
