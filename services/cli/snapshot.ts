/** `backtrack snapshot`: takes base snapshots of one tenant or of every tenant. */
import { userInfo } from 'node:os';

import { requireSection } from '../../shared/config/index.js';
import { BacktrackError, describeError, isBacktrackError } from '../../shared/errors.js';
import { formatLsn } from '../../shared/lsn.js';
import {
  createSnapshotter,
  type SnapshotResult,
  type TenantSnapshotOutcome,
} from '../snapshotter/index.js';

import type { Command } from './command.js';
import { EXIT } from './exit-codes.js';

const KINDS = ['full', 'schema'] as const;

function summary(result: SnapshotResult): Record<string, unknown> {
  return {
    id: result.id,
    tenant: result.tenant,
    kind: result.kind,
    takenAt: result.takenAt,
    snapshot: {
      xmin: result.xids.xmin.toString(),
      xmax: result.xids.xmax.toString(),
      xip: result.xids.xip.map(String),
    },
    lsn: formatLsn(result.lsn),
    log: {
      topic: result.log.topic,
      partition: result.log.partition,
      offset: result.log.offset.toString(),
    },
    tables: result.tables.map((t) => ({
      table: `${t.schema}.${t.table}`,
      rows: t.rows?.toString() ?? null,
      sizeBytes: t.sizeBytes,
    })),
    rows: result.rows.toString(),
    sizeBytes: result.sizeBytes,
    durationMs: result.durationMs,
  };
}

function line(result: SnapshotResult): string {
  const rows = result.kind === 'schema' ? 'definitions only' : `${result.rows} rows`;
  return `snapshot ${result.id} of ${result.tenant} (${result.kind}): ${rows} in ${result.tables.length} table(s), ${result.sizeBytes} bytes, taken at ${result.takenAt}, log ${result.log.topic}[${result.log.partition}]@${result.log.offset}, ${result.durationMs} ms`;
}

export const snapshotCommand: Command = {
  name: 'snapshot',
  summary: 'take a base snapshot of a tenant (or of every tenant) into object storage',
  usage: 'backtrack snapshot --tenant ID | --all [--kind full|schema] [--label TEXT] [--json]',
  options: {
    tenant: { type: 'string' },
    all: { type: 'boolean' },
    kind: { type: 'string' },
    label: { type: 'string' },
    json: { type: 'boolean' },
  },
  run: async ({ config, log, flags, print, note }) => {
    const tenant = typeof flags.tenant === 'string' ? flags.tenant : undefined;
    const all = flags.all === true;
    if ((tenant === undefined) === !all) {
      throw new BacktrackError('VALIDATION_FAILED', 'give exactly one of --tenant ID or --all');
    }
    const kindText = typeof flags.kind === 'string' ? flags.kind : 'full';
    const kind = KINDS.find((k) => k === kindText);
    if (!kind) {
      throw new BacktrackError(
        'VALIDATION_FAILED',
        `--kind must be full or schema, not ${kindText}`,
      );
    }
    const snapshotter = await createSnapshotter({
      source: requireSection(config, 'source', 'snapshot'),
      kafka: requireSection(config, 'kafka', 'snapshot'),
      s3: requireSection(config, 's3', 'snapshot'),
      catalog: requireSection(config, 'catalog', 'snapshot'),
      snapshot: config.snapshot,
      encryption: config.encryption,
      log,
    });
    const request = {
      kind,
      createdBy: `cli:${userInfo().username}`,
      label: typeof flags.label === 'string' ? flags.label : undefined,
    };
    try {
      if (tenant !== undefined) {
        const result = await snapshotter.take({ ...request, tenant });
        print(flags.json === true ? JSON.stringify(summary(result)) : line(result));
        return EXIT.OK;
      }
      const outcomes = await snapshotter.takeAll(request, (outcome: TenantSnapshotOutcome) => {
        if (flags.json === true) return;
        if (outcome.status === 'completed') print(line(outcome.result));
        else note(`snapshot of ${outcome.tenant} failed: ${describeError(outcome.error)}`);
      });
      const failed = outcomes.filter((o) => o.status === 'failed');
      if (flags.json === true) {
        print(
          JSON.stringify({
            snapshots: outcomes.flatMap((o) =>
              o.status === 'completed' ? [summary(o.result)] : [],
            ),
            failed: failed.map((o) => ({
              tenant: o.tenant,
              code: o.status === 'failed' && isBacktrackError(o.error) ? o.error.code : 'ERROR',
              message: o.status === 'failed' ? describeError(o.error) : '',
            })),
          }),
        );
      } else {
        print(`${outcomes.length - failed.length} snapshot(s) completed, ${failed.length} failed`);
      }
      return failed.length > 0 ? EXIT.FAILED : EXIT.OK;
    } finally {
      await snapshotter.close();
    }
  },
};
