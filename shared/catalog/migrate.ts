/**
 * The migration runner: applies the SQL files of `migrations/` in name order, each in its
 * own transaction, under an advisory lock so concurrent starts do not race. Applied files
 * are recorded with a checksum; an edited applied file is refused (migrations are
 * append-only).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { BacktrackError } from '../errors.js';
import type { PgPool } from '../pg/index.js';

/** One migration file. */
export interface Migration {
  /** The file's name without `.sql`, e.g. `0001_catalog_schema`. */
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

/** What a run did, per migration. */
export interface MigrationReport {
  readonly applied: readonly string[];
  readonly alreadyApplied: readonly string[];
}

const FILE_NAME = /^\d{4}_[a-z0-9_]+\.sql$/;
/** Key of the advisory lock held while migrating (any constant; this spells "btmigr"). */
const LOCK_KEY = 0x62746d69677271n;

/**
 * The `migrations/` folder of the installation: the nearest one above this module, which
 * works from the sources and from the compiled `dist/` alike.
 */
export function defaultMigrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'migrations');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir)
      throw new BacktrackError('CONFIG_INVALID', 'cannot find the migrations/ folder');
    dir = parent;
  }
}

/** Reads the migration files of `dir` in order; refuses names outside the NNNN_name.sql form. */
export function readMigrations(dir: string): Migration[] {
  const names = readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort();
  return names.map((file) => {
    if (!FILE_NAME.test(file)) {
      throw new BacktrackError(
        'CONFIG_INVALID',
        `migration file ${file} must be named NNNN_lower_snake.sql (e.g. 0002_segments.sql)`,
      );
    }
    const sql = readFileSync(join(dir, file), 'utf8');
    return {
      name: file.slice(0, -'.sql'.length),
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    };
  });
}

/** A stable digest of a set of migrations (names and checksums). */
export function migrationsDigest(migrations: readonly Migration[]): string {
  const hash = createHash('sha256');
  for (const m of migrations) hash.update(`${m.name}:${m.checksum}\n`);
  return hash.digest('hex');
}

/** Applies every pending migration; returns what it did. */
export async function migrate(
  pool: PgPool,
  migrations: readonly Migration[],
): Promise<MigrationReport> {
  const session = await pool.connect();
  try {
    await session.query('SELECT pg_advisory_lock($1)', [LOCK_KEY.toString()]);
    try {
      await session.query(`CREATE SCHEMA IF NOT EXISTS backtrack`);
      await session.query(`
        CREATE TABLE IF NOT EXISTS backtrack.schema_migrations (
          name        text PRIMARY KEY,
          checksum    text NOT NULL,
          applied_at  timestamptz NOT NULL DEFAULT now()
        )`);
      const result = await session.query('SELECT name, checksum FROM backtrack.schema_migrations');
      const applied = new Map(result.rows.map((row) => [String(row.name), String(row.checksum)]));

      const report = { applied: [] as string[], alreadyApplied: [] as string[] };
      for (const migration of migrations) {
        const recorded = applied.get(migration.name);
        if (recorded !== undefined) {
          if (recorded !== migration.checksum) {
            throw new BacktrackError(
              'CONFIG_INVALID',
              `migration ${migration.name} was changed after it was applied; migrations are append-only: restore the file and add a new migration`,
              { details: { migration: migration.name } },
            );
          }
          report.alreadyApplied.push(migration.name);
          continue;
        }
        await session.query('BEGIN');
        try {
          await session.query(migration.sql);
          await session.query(
            'INSERT INTO backtrack.schema_migrations (name, checksum) VALUES ($1, $2)',
            [migration.name, migration.checksum],
          );
          await session.query('COMMIT');
        } catch (e) {
          await session.query('ROLLBACK');
          throw new BacktrackError(
            'INTERNAL',
            `migration ${migration.name} failed: ${(e as Error).message}`,
            {
              cause: e,
            },
          );
        }
        report.applied.push(migration.name);
      }
      return report;
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY.toString()]);
    }
  } finally {
    session.release();
  }
}
