/** `backtrack setup`: checks the source and makes it capturable (schema history, publication, replica identity, slot). */
import { requireSection } from '../../shared/config/index.js';
import { createPgPool } from '../../shared/pg/index.js';
import { applySetup, planSetup, type SetupPlan } from '../capture/index.js';

import type { Command } from './command.js';
import { EXIT } from './exit-codes.js';

function describe(plan: SetupPlan, dryRun: boolean): string[] {
  const lines = [`source: PostgreSQL ${plan.serverVersion}`];
  lines.push(`captured tables (${plan.tables.length}): ${plan.tables.join(', ') || 'none'}`);
  if (plan.skipped.length > 0) {
    lines.push(`not captured (no tenant column): ${plan.skipped.join(', ')}`);
  }
  lines.push(
    plan.ddlHistory
      ? 'schema history: DDL on captured tables is recorded in the log by event triggers'
      : 'schema history: not installed (see the warning below)',
  );
  for (const warning of plan.warnings) lines.push(`  ! ${warning}`);
  if (plan.refusals.length > 0) {
    lines.push('refused; nothing was changed:');
    for (const refusal of plan.refusals) lines.push(`  ✗ ${refusal}`);
    return lines;
  }
  if (plan.actions.length === 0) {
    lines.push('nothing to change: the source is ready for capture');
    return lines;
  }
  lines.push(dryRun ? 'would change (dry run; nothing was changed):' : 'changed:');
  for (const action of plan.actions) lines.push(`  + ${action.description}`);
  return lines;
}

export const setupCommand: Command = {
  name: 'setup',
  summary:
    'check the source and create the publication, replica identities, schema history and slot capture needs',
  usage: 'backtrack setup [--dry-run] [--json]',
  options: { 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
  run: async ({ config, flags, print }) => {
    const source = requireSection(config, 'source', 'setup');
    const pool = createPgPool(source.url, { applicationName: 'backtrack-setup', max: 1 });
    try {
      const plan = await planSetup(pool, source);
      const dryRun = flags['dry-run'] === true;
      if (!dryRun && plan.refusals.length === 0) await applySetup(pool, plan);
      if (flags.json === true) {
        print(JSON.stringify({ ...plan, applied: !dryRun && plan.refusals.length === 0 }));
      } else {
        for (const line of describe(plan, dryRun)) print(line);
      }
      return plan.refusals.length > 0 ? EXIT.USAGE : EXIT.OK;
    } finally {
      await pool.end();
    }
  },
};
