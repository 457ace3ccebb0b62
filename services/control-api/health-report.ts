/**
 * The health report of a tenant: the score (health-score.ts) and, beside it, the facts an
 * operator acts on: capture lag (the slot's unconfirmed WAL bytes from pg_replication_slots,
 * and seconds behind: time since the commit of the last captured transaction, read from the
 * capture checkpoint in Kafka, counted only while the slot has unconfirmed WAL), archiver
 * lag (records of the tenant's partition in Kafka not yet archived, and an upper bound of
 * their age), RPO compliance of each active DR plan (capture lag + archiver lag seconds ≤
 * RPO) and RTO compliance (the newest full or deep DR test's measured RTO ≤ RTO), and
 * concrete recommendations.
 */
import { listCaptureGaps } from '../../shared/catalog/capture-gaps.js';
import { listDrPlans } from '../../shared/catalog/dr-plans.js';
import { listDrTests } from '../../shared/catalog/dr-tests.js';
import {
  completedScheduleJobs,
  newestFullSnapshotAt,
  operationCounts,
  storedBytes,
} from '../../shared/catalog/health-inputs.js';
import { recordHealth } from '../../shared/catalog/health-snapshots.js';
import { restorePoints } from '../../shared/catalog/restore-points.js';
import { listSchedules } from '../../shared/catalog/schedules.js';
import { checkpointTopic, readCheckpoint, txlogTopic } from '../../shared/events/index.js';
import { withTimeout } from '../../shared/lifecycle.js';
import { formatLsn } from '../../shared/lsn.js';

import type { ApiDeps } from './context.js';
import { fireInterval, fireTimesBetween } from './cron.js';
import { type HealthScore, healthScore } from './health-score.js';

const DAY = 86_400_000;
/** A scheduled run counts as missed only once this much time passed after it was due. */
const GRACE_MS = 5 * 60_000;

/** Capture and archiver lag. */
export interface Lag {
  readonly slotActive: boolean | null;
  readonly slotLagBytes: number | null;
  readonly captureSecondsBehind: number | null;
  readonly archiverLagRecords: number | null;
  readonly archiverSecondsBehind: number | null;
}

/** The compliance of one DR plan. */
export interface PlanCompliance {
  readonly drPlanId: string;
  readonly name: string;
  readonly rpoMinutes: number;
  readonly rpoExposureSeconds: number | null;
  readonly rpoMet: boolean | null;
  readonly rtoMinutes: number;
  readonly measuredRtoSeconds: number | null;
  readonly rtoMet: boolean | null;
}

/** The whole report. */
export interface HealthReport extends HealthScore {
  readonly tenant: string;
  readonly at: string;
  readonly periodDays: number;
  readonly lag: Lag;
  readonly plans: readonly PlanCompliance[];
  /** WAL capture lost that no later full snapshot of the tenant has healed. */
  readonly captureGaps: readonly {
    readonly slot: string;
    readonly fromLsn: string;
    readonly toLsn: string;
    readonly after: string;
    readonly detectedAt: string;
  }[];
  readonly recommendations: readonly string[];
}

async function slotLag(deps: ApiDeps): Promise<{ active: boolean; bytes: number } | undefined> {
  const result = await deps.source.query(
    `SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 AS bytes
       FROM pg_replication_slots WHERE slot_name = $1`,
    [deps.slot],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return { active: row.active === true, bytes: Math.max(0, Number(row.bytes ?? 0)) };
}

async function lagOf(deps: ApiDeps, tenant: string, now: Date): Promise<Lag> {
  const slot = await slotLag(deps).catch(() => undefined);
  let captureSecondsBehind: number | null = null;
  if (slot !== undefined) {
    if (slot.bytes === 0) captureSecondsBehind = 0;
    else {
      const checkpoint = await withTimeout(
        readCheckpoint(deps.kafka, checkpointTopic(deps.topicPrefix), deps.slot),
        5000,
        'reading the capture checkpoint',
      ).catch(() => undefined);
      // A checkpoint with no transaction yet (commit time 0: where a slot's first session
      // started) says nothing of how far behind capture is.
      if (checkpoint !== undefined && checkpoint.commitTimeUs > 0n)
        captureSecondsBehind = Math.max(
          0,
          (now.getTime() - Number(checkpoint.commitTimeUs / 1000n)) / 1000,
        );
    }
  }
  let archiverLagRecords: number | null = null;
  let archiverSecondsBehind: number | null = null;
  const points = await restorePoints(deps.catalog, tenant, txlogTopic(deps.topicPrefix)).catch(
    () => undefined,
  );
  if (points?.partition !== undefined) {
    const offsets = await withTimeout(
      (async () => {
        const admin = await deps.kafka.admin();
        try {
          return await admin.topicOffsets(txlogTopic(deps.topicPrefix));
        } finally {
          await admin.disconnect();
        }
      })(),
      5000,
      'reading the log offsets',
    ).catch(() => undefined);
    const high = offsets?.find((o) => o.partition === points.partition)?.high;
    if (high !== undefined) {
      const lag = high - (points.archivedTo ?? 0n);
      archiverLagRecords = Number(lag > 0n ? lag : 0n);
      archiverSecondsBehind =
        archiverLagRecords === 0
          ? 0
          : points.archivedThrough === null
            ? null
            : Math.max(0, (now.getTime() - points.archivedThrough.getTime()) / 1000);
    }
  }
  return {
    slotActive: slot?.active ?? null,
    slotLagBytes: slot?.bytes ?? null,
    captureSecondsBehind,
    archiverLagRecords,
    archiverSecondsBehind,
  };
}

async function scheduleInputs(deps: ApiDeps, tenant: string, since: Date, now: Date) {
  const schedules = await listSchedules(deps.catalog, { tenant, enabledOnly: true });
  const inputs = [];
  for (const s of schedules) {
    const from = s.createdAt > since ? s.createdAt : since;
    const to = new Date(now.getTime() - GRACE_MS);
    const expected = to > from ? fireTimesBetween(s.cron, s.timezone, from, to).length : 0;
    inputs.push({ expected, completed: await completedScheduleJobs(deps.catalog, s.id, from) });
  }
  const intervals = schedules
    .filter((s) => s.jobType === 'snapshot')
    .map((s) => fireInterval(s.cron, s.timezone, now))
    .filter((ms): ms is number => ms !== undefined);
  return {
    inputs,
    count: schedules.length,
    expectedIntervalMs: intervals.length > 0 ? Math.min(...intervals) : DAY,
  };
}

async function planCompliance(deps: ApiDeps, tenant: string, lag: Lag): Promise<PlanCompliance[]> {
  const plans = (await listDrPlans(deps.catalog, tenant)).filter((p) => p.isActive);
  const tests = await listDrTests(deps.catalog, { tenant, limit: 200, offset: 0 });
  const exposure =
    lag.captureSecondsBehind === null || lag.archiverSecondsBehind === null
      ? null
      : lag.captureSecondsBehind + lag.archiverSecondsBehind;
  return plans.map((p) => {
    const measured = tests.find(
      (t) =>
        t.validationLevel !== 'basic' &&
        t.measuredRtoMs !== null &&
        (t.drPlanId === p.id || t.drPlanId === null),
    );
    const measuredRtoSeconds =
      measured?.measuredRtoMs === undefined || measured.measuredRtoMs === null
        ? null
        : measured.measuredRtoMs / 1000;
    return {
      drPlanId: p.id,
      name: p.name,
      rpoMinutes: p.rpoMinutes,
      rpoExposureSeconds: exposure,
      rpoMet: exposure === null ? null : exposure <= p.rpoMinutes * 60,
      rtoMinutes: p.rtoMinutes,
      measuredRtoSeconds,
      rtoMet: measuredRtoSeconds === null ? null : measuredRtoSeconds <= p.rtoMinutes * 60,
    };
  });
}

function recommendations(
  score: HealthScore,
  lag: Lag,
  plans: readonly PlanCompliance[],
  schedules: number,
  captureGaps: HealthReport['captureGaps'],
): string[] {
  const out: string[] = [];
  for (const gap of captureGaps)
    out.push(
      `Capture lost WAL ${gap.fromLsn}..${gap.toLsn} (found ${gap.detectedAt}): changes after ${gap.after} may be missing from the log, so no restore past that instant is exact until a full snapshot is taken after the gap; take one now (POST /v1/backups) and find why the slot moved past the checkpoint.`,
    );
  const { successRate, recency, scheduleCompliance, storageEfficiency } = score.parts;
  if (successRate.ratio === null)
    out.push(
      'Nothing ran in the period: take a backup (POST /v1/backups) and run a DR test (POST /v1/dr-tests).',
    );
  else if (successRate.ratio < 0.95)
    out.push(
      `Operations fail (${successRate.detail}): read the errors of the failed jobs (GET /v1/jobs?status=failed).`,
    );
  if (recency.ratio === null)
    out.push('There is no full snapshot: take one now (POST /v1/backups).');
  else if (recency.ratio < 1)
    out.push(
      `The newest full snapshot is overdue (${recency.detail}): take one now and check the snapshot schedule.`,
    );
  if (schedules === 0)
    out.push(
      'No schedule is enabled: create a daily snapshot schedule (POST /v1/schedules, jobType snapshot).',
    );
  else if ((scheduleCompliance.ratio ?? 1) < 1)
    out.push(
      `Scheduled runs were missed (${scheduleCompliance.detail}): check that \`backtrack run\` (or the workers) is running.`,
    );
  if ((storageEfficiency.ratio ?? 1) < 0.8)
    out.push(
      `Dead bytes take room (${storageEfficiency.detail}): run compaction and delete expired or failed snapshots.`,
    );
  if (lag.slotActive === false)
    out.push(
      'The replication slot is not active: capture is stopped; start `backtrack capture` before the slot pins too much WAL.',
    );
  if ((lag.slotLagBytes ?? 0) > 1024 * 1024 * 1024)
    out.push(
      `The slot holds ${Math.round((lag.slotLagBytes ?? 0) / 1048576)} MiB of WAL not yet captured: capture is behind.`,
    );
  if ((lag.archiverSecondsBehind ?? 0) > 600)
    out.push(
      `The archive is ${Math.round(lag.archiverSecondsBehind ?? 0)} s behind the log: check that \`backtrack archive\` runs.`,
    );
  for (const p of plans) {
    if (p.rpoMet === false)
      out.push(
        `DR plan ${p.name}: data-loss exposure ${Math.round(p.rpoExposureSeconds ?? 0)} s exceeds its RPO of ${p.rpoMinutes} min.`,
      );
    if (p.rtoMet === null)
      out.push(
        `DR plan ${p.name}: no full or deep DR test measured the RTO yet; run one (POST /v1/dr-tests, validationLevel full).`,
      );
    else if (!p.rtoMet)
      out.push(
        `DR plan ${p.name}: the last measured RTO (${Math.round(p.measuredRtoSeconds ?? 0)} s) exceeds its RTO of ${p.rtoMinutes} min.`,
      );
  }
  return out;
}

/** Computes (and records) the health report of `tenant` over the last `periodDays`. */
export async function healthReport(
  deps: ApiDeps,
  tenant: string,
  periodDays: number,
): Promise<HealthReport> {
  const now = deps.clock.now();
  const since = new Date(now.getTime() - periodDays * DAY);
  const schedules = await scheduleInputs(deps, tenant, since, now);
  const storage = await storedBytes(deps.catalog, tenant);
  const newestFull = await newestFullSnapshotAt(deps.catalog, tenant);
  const captureGaps = (await listCaptureGaps(deps.catalog, txlogTopic(deps.topicPrefix)))
    .filter((g) => newestFull === null || newestFull <= g.detectedAt)
    .map((g) => ({
      slot: g.slot,
      fromLsn: formatLsn(g.fromLsn),
      toLsn: formatLsn(g.toLsn),
      after: g.afterCommitTime.toISOString(),
      detectedAt: g.detectedAt.toISOString(),
    }));
  const score = healthScore({
    now,
    operations: await operationCounts(deps.catalog, tenant, since),
    newestFullSnapshotAt: newestFull,
    expectedIntervalMs: schedules.expectedIntervalMs,
    schedules: schedules.inputs,
    storage,
  });
  const lag = await lagOf(deps, tenant, now);
  const plans = await planCompliance(deps, tenant, lag);
  await recordHealth(deps.catalog, tenant, score.score, score.parts);
  return {
    ...score,
    tenant,
    at: now.toISOString(),
    periodDays,
    lag,
    plans,
    captureGaps,
    recommendations: recommendations(score, lag, plans, schedules.count, captureGaps),
  };
}
