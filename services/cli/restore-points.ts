/** `backtrack restore-points`: the recoverable window of a tenant, and every gap. */
import { requireArchiveCatalog } from '../../shared/catalog/readiness.js';
import { restorePoints, type RestorePoints } from '../../shared/catalog/restore-points.js';
import { requireSection } from '../../shared/config/index.js';
import { BacktrackError } from '../../shared/errors.js';
import { txlogTopic } from '../../shared/events/index.js';
import { formatLsn } from '../../shared/lsn.js';
import { createPgPool } from '../../shared/pg/index.js';

import type { Command } from './command.js';

const iso = (date: Date | null): string | null => date?.toISOString() ?? null;

function asJson(points: RestorePoints): Record<string, unknown> {
  return {
    tenant: points.tenant,
    topic: points.topic,
    partition: points.partition ?? null,
    truncatePartition: points.truncatePartition ?? null,
    earliest: iso(points.earliest),
    latest: iso(points.latest),
    windows: points.windows.map((w) => ({
      from: iso(w.from),
      to: iso(w.to),
      snapshots: w.snapshotIds,
    })),
    gaps: points.gaps.map((g) => ({
      partition: g.partition,
      fromOffset: g.from.toString(),
      toOffset: g.to.toString(),
      after: iso(g.after),
      before: iso(g.before),
    })),
    captureGaps: points.captureGaps.map((g) => ({
      slot: g.slot,
      fromLsn: formatLsn(g.fromLsn),
      toLsn: formatLsn(g.toLsn),
      after: iso(g.afterCommitTime),
      detectedAt: iso(g.detectedAt),
    })),
    archivedTo: points.archivedTo?.toString() ?? null,
    archivedThrough: iso(points.archivedThrough),
    lastTenantEventAt: iso(points.lastTenantEventAt),
    snapshots: points.snapshots.map((s) => ({
      id: s.id,
      kind: s.kind,
      takenAt: iso(s.takenAt),
      rows: s.rows.toString(),
    })),
    censuses: points.censuses.map((c) => ({ id: c.id, takenAt: iso(c.takenAt) })),
    segments: points.segments,
  };
}

function asText(points: RestorePoints): string[] {
  const lines = [
    `tenant ${points.tenant}: log ${points.topic} partition ${points.partition ?? '?'} (truncates: partition ${points.truncatePartition ?? '?'})`,
  ];
  if (points.earliest === null || points.latest === null) {
    lines.push(
      `recoverable: nothing yet — no completed full snapshot, and no tenant census found the tenant without rows: run \`backtrack snapshot --tenant ${points.tenant}\``,
    );
  } else {
    lines.push(
      `recoverable: ${iso(points.earliest)} … ${iso(points.latest)} (from the archive; restores also read the Kafka tail after it)`,
    );
    for (const w of points.windows)
      lines.push(`  window ${iso(w.from)} … ${iso(w.to)} from ${w.snapshotIds.length} base(s)`);
  }
  const firstCensus = points.censuses[0];
  if (firstCensus) {
    lines.push(
      `tenant censuses: ${points.censuses.length} found no rows of ${points.tenant} (from ${iso(firstCensus.takenAt)}): restores start there from an empty base`,
    );
  }
  lines.push(
    `archive: ${points.segments} segment(s), through offset ${points.archivedTo ?? '-'} (newest commit ${iso(points.archivedThrough) ?? '-'}); ${points.snapshots.length} data snapshot(s)`,
  );
  for (const g of points.captureGaps) {
    lines.push(
      `capture gap: slot ${g.slot} lost WAL ${formatLsn(g.fromLsn)}..${formatLsn(g.toLsn)}: changes committed after ${iso(g.afterCommitTime)} and before ${iso(g.detectedAt)} may be missing; restores need a snapshot taken after ${iso(g.detectedAt)}`,
    );
  }
  if (points.gaps.length === 0 && points.captureGaps.length === 0) lines.push('gaps: none');
  for (const g of points.gaps) {
    lines.push(
      `gap: partition ${g.partition} offsets [${g.from}, ${g.to}) not archived, between ${iso(g.after) ?? 'the start'} and ${iso(g.before) ?? 'the end'}`,
    );
  }
  return lines;
}

export const restorePointsCommand: Command = {
  name: 'restore-points',
  summary: 'show the instants a tenant can be restored to, and every gap in its archive',
  usage: 'backtrack restore-points --tenant ID [--json]',
  options: { tenant: { type: 'string' }, json: { type: 'boolean' } },
  run: async ({ config, flags, print }) => {
    if (typeof flags.tenant !== 'string') {
      throw new BacktrackError('VALIDATION_FAILED', 'give the tenant: --tenant ID');
    }
    const catalogConfig = requireSection(config, 'catalog', 'restore-points');
    const topic = txlogTopic(config.kafka?.topicPrefix ?? 'backtrack');
    const catalog = createPgPool(catalogConfig.url, {
      applicationName: 'backtrack-restore-points',
      max: 2,
    });
    try {
      await requireArchiveCatalog(catalog, catalogConfig.url);
      const points = await restorePoints(catalog, flags.tenant, topic);
      if (flags.json === true) print(JSON.stringify(asJson(points)));
      else for (const line of asText(points)) print(line);
    } finally {
      await catalog.end();
    }
  },
};
