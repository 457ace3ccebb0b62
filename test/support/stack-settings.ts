/** The settings the harness hands to every integration test. */

/** `BACKTRACK_*` settings of the servers under test, and where they came from. */
export interface TestStack {
  /** env: servers named by environment variables; local: infra/stack; containers: testcontainers. */
  readonly origin: 'env' | 'local' | 'containers';
  /** Settings as `loadConfig` reads them (source, catalog, Kafka, S3). */
  readonly settings: Readonly<Record<string, string>>;
  /** Superuser connection string of the server (to create databases and slots). */
  readonly adminUrl: string;
  /** The template catalog database, migrated once per run; each test clones it. */
  readonly catalogTemplate: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    testStack: TestStack;
  }
}
