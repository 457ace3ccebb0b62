/**
 * How catalog column values arrive from the driver, as zod schemas: each query's row type
 * is a `z.object` of these, and {@link parseRows} narrows the driver's rows with it (int8
 * and xid8 arrive as text, pg_lsn as text, timestamptz as Date, jsonb as parsed JSON).
 */
import { z } from 'zod';

import { BacktrackError } from '../errors.js';
import { isLsnText, parseLsn } from '../lsn.js';
import type { Row } from '../pg/index.js';

/** int8 / xid8 / numeric text (or a small number) → bigint. */
export const int8 = z
  .union([z.string().regex(/^-?\d+$/), z.number().int(), z.bigint()])
  .transform((value) => BigInt(value));

/** int4 → number. */
export const int4 = z.number().int();

/** pg_lsn text → Lsn. */
export const lsn = z
  .string()
  .refine(isLsnText, 'not an LSN')
  .transform((text) => parseLsn(text));

/** timestamptz → Date. */
export const timestamp = z.date();

/** xid8[] selected as `::text[]` → bigint[]. */
export const xid8Array = z.array(z.string().regex(/^\d+$/)).transform((xs) => xs.map(BigInt));

/**
 * Narrows every row of a result with `schema`; a row that does not fit is a programming
 * error (the query and its row type disagree), reported with the query's name.
 */
export function parseRows<S extends z.ZodType>(
  query: string,
  schema: S,
  rows: readonly Row[],
): z.output<S>[] {
  return rows.map((row) => {
    const parsed = schema.safeParse(row);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new BacktrackError(
        'INTERNAL',
        `catalog query ${query} returned a row of an unexpected shape (${issue?.path.join('.')}: ${issue?.message}); run \`backtrack migrate\``,
      );
    }
    return parsed.data;
  });
}

/** SQL for a commit time given in microseconds since the epoch (exact below 2^53 µs). */
export function microsToTimestamptz(parameter: string): string {
  return `(timestamptz 'epoch' + (${parameter})::bigint * interval '1 microsecond')`;
}
