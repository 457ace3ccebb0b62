/**
 * `backtrack.rate_limit_counters`: fixed-window request counters per tenant and endpoint
 * bucket, shared by every API instance. One atomic statement counts a request and says
 * where the window stands, on the catalog's clock, so instances never disagree.
 */
import { z } from 'zod';

import type { Queryable } from '../pg/index.js';

import { int4, int8, parseRows } from './columns.js';

/** The state of a window after a request was counted. */
export interface RateWindow {
  /** Requests counted in this window, this one included. */
  readonly count: number;
  /** When the window ends, in Unix seconds. */
  readonly resetAt: number;
  /** Seconds until then (at least 1). */
  readonly retryAfter: number;
}

const windowRow = z
  .object({ count: int4, reset_at: int8, retry_after: int8 })
  .transform((r): RateWindow => ({
    count: r.count,
    resetAt: Number(r.reset_at),
    retryAfter: Math.max(1, Number(r.retry_after)),
  }));

/** Counts one request of `tenant` on `bucket` in the current window of `windowSeconds`. */
export async function countRequest(
  db: Queryable,
  tenant: string,
  bucket: string,
  windowSeconds: number,
): Promise<RateWindow> {
  const result = await db.query(
    `WITH w AS (
       SELECT to_timestamp(floor(extract(epoch FROM now()) / $3) * $3) AS start
     )
     INSERT INTO backtrack.rate_limit_counters AS c (tenant_id, bucket, window_start, count)
     SELECT $1, $2, w.start, 1 FROM w
     ON CONFLICT (tenant_id, bucket, window_start) DO UPDATE SET count = c.count + 1
     RETURNING c.count,
       (extract(epoch FROM c.window_start) + $3)::bigint AS reset_at,
       ceil(extract(epoch FROM c.window_start) + $3 - extract(epoch FROM now()))::bigint AS retry_after`,
    [tenant, bucket, windowSeconds],
  );
  const [row] = parseRows('countRequest', windowRow, result.rows);
  if (!row) throw new Error('countRequest returned no row');
  return row;
}

/** Deletes windows that ended more than `keepSeconds` ago; returns how many. */
export async function pruneRateWindows(db: Queryable, keepSeconds: number): Promise<number> {
  const result = await db.query(
    `DELETE FROM backtrack.rate_limit_counters
      WHERE window_start < now() - $1::integer * interval '1 second'`,
    [keepSeconds],
  );
  return result.rowCount;
}
