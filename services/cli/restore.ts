/**
 * `backtrack restore` and `backtrack rollback`: rebuild one tenant as it was at an instant
 * (into a new schema by default, or in place with --confirm), or put it back as it was
 * before an in-place restore. Progress on a terminal; a summary, or JSON with --json.
 */
import { userInfo } from 'node:os';

import { requireSection } from '../../shared/config/index.js';
import { BacktrackError } from '../../shared/errors.js';
import { defaultTargetSchema } from '../../shared/source/restore-schema.js';
import {
  createRestorer,
  type RestoreProgress,
  type RestoreSummary,
  type Restorer,
} from '../restore/index.js';
import { createSnapshotter } from '../snapshotter/index.js';

import type { Command, CommandContext } from './command.js';
import { failpointHook } from './failpoints.js';

const fmt = (n: number): string => n.toLocaleString('en-US');

/** A progress line on stderr when it is a terminal, rewritten in place. */
function progressPrinter(): (progress: RestoreProgress) => void {
  if (!process.stderr.isTTY) return () => undefined;
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (p.phase === 'load' && now - last < 200) return;
    last = now;
    const eta = p.etaSeconds === undefined ? '' : `, ETA ${Math.ceil(p.etaSeconds)} s`;
    const detail =
      p.phase === 'load'
        ? `loading: ${p.tablesDone}/${p.tablesTotal} tables, ${fmt(p.rowsDone)}/${fmt(p.rowsTotal)} rows${eta}`
        : p.phase;
    process.stderr.write(`\r\u001b[2K${detail}${p.phase === 'done' ? '\n' : ''}`);
  };
}

/** Connects the engine, with the snapshotter taking the pre_restore snapshots. */
async function openRestorer(
  context: CommandContext,
  command: string,
): Promise<{ restorer: Restorer; close: () => Promise<void> }> {
  const { config, log } = context;
  const source = requireSection(config, 'source', command);
  const catalog = requireSection(config, 'catalog', command);
  const kafka = requireSection(config, 'kafka', command);
  const s3 = requireSection(config, 's3', command);
  const snapshotter = await createSnapshotter({
    source,
    kafka,
    s3,
    catalog,
    snapshot: config.snapshot,
    encryption: config.encryption,
    log,
  });
  const restorer = createRestorer({
    source,
    catalog,
    kafka,
    s3,
    encryption: config.encryption,
    log: log,
    takePreRestoreSnapshot: async (tenant, createdBy) =>
      (await snapshotter.take({ tenant, kind: 'pre_restore', createdBy })).id,
    captureWaitMs: config.restore.captureWaitMs,
    memoryBytes: config.restore.memoryBytes,
    tempDir: config.restore.tempDir,
    failpoint: failpointHook(config.failpoints, log),
  });
  return {
    restorer,
    close: async () => {
      await restorer.close();
      await snapshotter.close();
    },
  };
}

/** The summary as lines for a person. */
function describe(summary: RestoreSummary, what: string): string[] {
  const mode = summary.mode === 'schema' ? `into schema ${summary.targetSchema ?? ''}` : 'in place';
  const lines = [
    `${what} of tenant ${summary.tenant} to ${summary.target} ${mode}${summary.dryRun ? ' (dry run: nothing was written)' : ''}`,
    `  from snapshot ${summary.snapshot.id} taken ${summary.snapshot.takenAt ?? '?'}; ${fmt(summary.replayed.events)} event(s) replayed${summary.replayed.from ? ` (${summary.replayed.from} → ${summary.replayed.to ?? ''})` : ''}`,
  ];
  const width = Math.max(5, ...summary.tables.map((t) => t.table.length));
  lines.push(
    `  ${'table'.padEnd(width)}  ${'rows at T'.padStart(10)}  ${'now'.padStart(10)}  ${'insert'.padStart(8)}  ${'update'.padStart(8)}  ${'delete'.padStart(8)}`,
  );
  for (const t of summary.tables) {
    lines.push(
      `  ${t.table.padEnd(width)}  ${fmt(t.rowsAtTarget).padStart(10)}  ${fmt(t.rowsNow).padStart(10)}  ${fmt(t.inserts).padStart(8)}  ${fmt(t.updates).padStart(8)}  ${fmt(t.deletes).padStart(8)}`,
    );
  }
  if (!summary.dryRun) {
    const rows = summary.restored.reduce((n, t) => n + t.loaded.rows, 0);
    lines.push(
      `  restored and verified ${fmt(rows)} row(s) in ${summary.restored.length} table(s) in ${(summary.durationMs / 1000).toFixed(1)} s`,
    );
  }
  if (summary.preRestoreSnapshotId) {
    lines.push(
      `  pre-restore snapshot ${summary.preRestoreSnapshotId}: undo with \`backtrack rollback --snapshot ${summary.preRestoreSnapshotId} --confirm\``,
    );
  }
  for (const warning of summary.warnings) lines.push(`  warning: ${warning}`);
  return lines;
}

function json(summary: RestoreSummary): string {
  return JSON.stringify(summary, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'rebuild one tenant as it was at an instant: into a new schema, or in place',
  usage:
    'backtrack restore --tenant ID --to INSTANT|LSN [--tables a,b] [--target-schema NAME | --in-place --confirm] [--dry-run] [--json]',
  options: {
    tenant: { type: 'string' },
    to: { type: 'string' },
    tables: { type: 'string' },
    'target-schema': { type: 'string' },
    'in-place': { type: 'boolean' },
    confirm: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  run: async (context) => {
    const { flags, print } = context;
    const tenant = typeof flags.tenant === 'string' ? flags.tenant : undefined;
    const to = typeof flags.to === 'string' ? flags.to : undefined;
    if (!tenant || !to) {
      throw new BacktrackError(
        'VALIDATION_FAILED',
        'give --tenant ID and --to INSTANT (ISO-8601 with a zone) or --to LSN',
      );
    }
    const inPlace = flags['in-place'] === true;
    const schema = typeof flags['target-schema'] === 'string' ? flags['target-schema'] : undefined;
    if (inPlace && schema)
      throw new BacktrackError('VALIDATION_FAILED', 'give --target-schema or --in-place, not both');
    const tables =
      typeof flags.tables === 'string'
        ? flags.tables
            .split(',')
            .map((t) => t.trim())
            .filter((t) => t.length > 0)
        : undefined;
    const { restorer, close } = await openRestorer(context, 'restore');
    try {
      const summary = await restorer.restore({
        tenant,
        target: to,
        tables,
        mode: inPlace
          ? { kind: 'in-place', confirm: flags.confirm === true }
          : { kind: 'schema', schema: schema ?? defaultTargetSchema(tenant, new Date()) },
        dryRun: flags['dry-run'] === true,
        actor: `cli:${userInfo().username}`,
        onProgress: flags.json === true ? undefined : progressPrinter(),
      });
      if (flags.json === true) print(json(summary));
      else for (const line of describe(summary, 'restore')) print(line);
    } finally {
      await close();
    }
  },
};

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'put a tenant back as it was before an in-place restore (from its pre-restore snapshot)',
  usage: 'backtrack rollback --snapshot ID --confirm [--reason TEXT] [--dry-run] [--json]',
  options: {
    snapshot: { type: 'string' },
    confirm: { type: 'boolean' },
    reason: { type: 'string' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  run: async (context) => {
    const { flags, print } = context;
    const snapshotId = typeof flags.snapshot === 'string' ? flags.snapshot : undefined;
    if (!snapshotId)
      throw new BacktrackError('VALIDATION_FAILED', 'give --snapshot ID (a pre-restore snapshot)');
    const { restorer, close } = await openRestorer(context, 'rollback');
    try {
      const summary = await restorer.rollback({
        snapshotId,
        confirm: flags.confirm === true,
        dryRun: flags['dry-run'] === true,
        reason: typeof flags.reason === 'string' ? flags.reason : undefined,
        actor: `cli:${userInfo().username}`,
        onProgress: flags.json === true ? undefined : progressPrinter(),
      });
      if (flags.json === true) print(json(summary));
      else for (const line of describe(summary, 'rollback')) print(line);
    } finally {
      await close();
    }
  },
};
