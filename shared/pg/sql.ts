/**
 * Identifier and literal quoting for the few statements that cannot take parameters
 * (DDL, replication commands). Inputs are still checked against the catalog of captured
 * tables before they get here; quoting is the second fence, not the first.
 */

/** Quotes an identifier as Postgres does: double quotes, inner quotes doubled. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0')) {
    throw new TypeError('an SQL identifier must be non-empty and contain no NUL');
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes `schema.table`. */
export function quoteQualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/** Quotes a string literal (standard_conforming_strings on: only quotes are doubled). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new TypeError('an SQL literal cannot contain NUL');
  return `'${value.replace(/'/g, "''")}'`;
}
