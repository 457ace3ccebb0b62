/**
 * The health score of a tenant, 0–100, as the sum of four parts (pure):
 *
 * - **Success rate (40)**: 40 × succeeded / (succeeded + failed) over the operations of the
 *   period — full and schema base snapshots started in it (completed vs failed), verify jobs
 *   finished in it (completed vs failed) and DR tests finished in it (passed vs failed).
 *   No operation in the period: 0 (nothing shows the backups work).
 * - **Recency (30)**: age A of the newest completed full snapshot against the expected
 *   interval E (the shortest fire interval of the tenant's enabled snapshot schedules, or
 *   24 h without one): 30 while A ≤ E, then falling linearly to 0 at A = 3E. No snapshot: 0.
 * - **Schedule compliance (20)**: over the tenant's enabled schedules, 20 × Σ min(completed,
 *   expected) / Σ expected, where expected counts the cron fire times in the period (from
 *   the later of its start and the schedule's creation, to 5 minutes ago) and completed the
 *   jobs the schedule created in that stretch that completed. Schedules that were not due
 *   yet: 20. No enabled schedule: 0.
 * - **Storage efficiency (10)**: 10 × live / (live + dead) bytes, live = active segments and
 *   unexpired completed snapshots, dead = compacted segments awaiting deletion, failed
 *   snapshots and expired pre-restore snapshots. Nothing stored: 0.
 *
 * The score is the sum rounded to an integer; each part is reported with its inputs.
 */

/** What the score is computed from. */
export interface HealthInputs {
  readonly now: Date;
  readonly operations: { readonly succeeded: number; readonly failed: number };
  readonly newestFullSnapshotAt: Date | null;
  /** Expected snapshot interval (ms). */
  readonly expectedIntervalMs: number;
  /** Per enabled schedule: fire times expected in the period and completed jobs. */
  readonly schedules: readonly { readonly expected: number; readonly completed: number }[];
  readonly storage: { readonly liveBytes: number; readonly deadBytes: number };
}

/** One part of the score. */
export interface HealthPart {
  readonly points: number;
  readonly max: number;
  /** The ratio behind the points (0…1), or null when there was nothing to measure. */
  readonly ratio: number | null;
  readonly detail: string;
}

/** The score and its parts. */
export interface HealthScore {
  readonly score: number;
  readonly parts: {
    readonly successRate: HealthPart;
    readonly recency: HealthPart;
    readonly scheduleCompliance: HealthPart;
    readonly storageEfficiency: HealthPart;
  };
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

function part(max: number, ratio: number | null, detail: string): HealthPart {
  return {
    points: round1(max * (ratio ?? 0)),
    max,
    ratio: ratio === null ? null : round1(ratio * 1000) / 1000,
    detail,
  };
}

/** Computes the score from its inputs. */
export function healthScore(i: HealthInputs): HealthScore {
  const total = i.operations.succeeded + i.operations.failed;
  const successRate = part(
    40,
    total === 0 ? null : i.operations.succeeded / total,
    total === 0
      ? 'no backup, verification or DR test in the period'
      : `${i.operations.succeeded} of ${total} operations succeeded`,
  );

  let recencyRatio: number | null = null;
  let recencyDetail = 'no completed full snapshot';
  if (i.newestFullSnapshotAt !== null) {
    const age = Math.max(0, i.now.getTime() - i.newestFullSnapshotAt.getTime());
    const e = i.expectedIntervalMs;
    recencyRatio = age <= e ? 1 : Math.max(0, (3 * e - age) / (2 * e));
    recencyDetail = `newest full snapshot ${Math.round(age / 60_000)} min old; expected every ${Math.round(e / 60_000)} min`;
  }
  const recency = part(30, recencyRatio, recencyDetail);

  const expected = i.schedules.reduce((n, s) => n + s.expected, 0);
  const met = i.schedules.reduce((n, s) => n + Math.min(s.completed, s.expected), 0);
  const scheduleCompliance = part(
    20,
    i.schedules.length === 0 ? null : expected === 0 ? 1 : met / expected,
    i.schedules.length === 0
      ? 'no enabled schedule'
      : `${met} of ${expected} scheduled runs completed in the period`,
  );

  const stored = i.storage.liveBytes + i.storage.deadBytes;
  const storageEfficiency = part(
    10,
    stored === 0 ? null : i.storage.liveBytes / stored,
    stored === 0 ? 'nothing stored' : `${i.storage.liveBytes} of ${stored} stored bytes are live`,
  );

  const parts = { successRate, recency, scheduleCompliance, storageEfficiency };
  const score = Math.round(
    successRate.points + recency.points + scheduleCompliance.points + storageEfficiency.points,
  );
  return { score: Math.min(100, Math.max(0, score)), parts };
}
