/**
 * The check every catalog user makes at start: the catalog answers and is migrated far
 * enough for the tables it uses, with a message that says which command fixes it.
 */
import { BacktrackError, isBacktrackError, isRetriable } from '../errors.js';
import { type Queryable, sqlState } from '../pg/index.js';

/** Host, port and database of a connection string, for messages (never the password). */
export function catalogLocation(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return 'the configured catalog';
  }
}

/**
 * Resolves when the catalog has the archive tables (migration 0002); otherwise throws
 * CONFIG_INVALID (not migrated) or CATALOG_UNAVAILABLE (cannot connect; retriable).
 */
export async function requireArchiveCatalog(db: Queryable, url: string): Promise<void> {
  try {
    await db.query('SELECT 1 FROM backtrack.archive_ranges, backtrack.base_snapshots LIMIT 0');
  } catch (e) {
    if (isBacktrackError(e)) throw e;
    const state = sqlState(e);
    if (state === '42P01' || state === '3F000') {
      throw new BacktrackError(
        'CONFIG_INVALID',
        `the catalog at ${catalogLocation(url)} has no archive tables: run \`backtrack migrate\` first`,
        { cause: e },
      );
    }
    if (state?.startsWith('28') || state === '3D000') {
      throw new BacktrackError(
        'CONFIG_INVALID',
        `cannot use the catalog at ${catalogLocation(url)} (${(e as Error).message}); check BACKTRACK_CATALOG_URL`,
        { cause: e },
      );
    }
    if (isRetriable(e) || sqlState(e) === undefined) {
      throw new BacktrackError(
        'CATALOG_UNAVAILABLE',
        `cannot reach the catalog at ${catalogLocation(url)} (${(e as Error).message}); check BACKTRACK_CATALOG_URL and that Postgres runs`,
        { cause: e, retriable: true },
      );
    }
    throw e;
  }
}
