/** `backtrack migrate`: applies the catalog migrations. */
import { defaultMigrationsDir, migrate, readMigrations } from '../../shared/catalog/migrate.js';
import { requireSection } from '../../shared/config/index.js';
import { createPgPool } from '../../shared/pg/index.js';

import type { Command } from './command.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'apply the catalog migrations (schema `backtrack`)',
  usage: 'backtrack migrate [--json]',
  options: { json: { type: 'boolean' } },
  run: async ({ config, print, flags }) => {
    const catalog = requireSection(config, 'catalog', 'migrate');
    const pool = createPgPool(catalog.url, { applicationName: 'backtrack-migrate', max: 1 });
    try {
      const report = await migrate(pool, readMigrations(defaultMigrationsDir()));
      if (flags.json === true) {
        print(JSON.stringify(report));
      } else {
        for (const name of report.applied) print(`applied ${name}`);
        print(
          report.applied.length === 0
            ? `catalog is up to date (${report.alreadyApplied.length} migrations)`
            : `applied ${report.applied.length} migration(s); ${report.alreadyApplied.length} were already applied`,
        );
      }
    } finally {
      await pool.end();
    }
  },
};
