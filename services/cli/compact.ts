/** `backtrack compact`: merges small segments and deletes compacted objects past their grace. */
import { keyringFrom } from '../../shared/archive/encryption.js';
import { requireArchiveCatalog } from '../../shared/catalog/readiness.js';
import { requireSection } from '../../shared/config/index.js';
import { createPgPool } from '../../shared/pg/index.js';
import { createObjectStore } from '../../shared/s3/index.js';
import { runCompaction } from '../archiver/index.js';

import type { Command } from './command.js';
import { EXIT } from './exit-codes.js';

export const compactCommand: Command = {
  name: 'compact',
  summary:
    "merge a tenant's small adjacent segments; delete compacted objects after their grace period",
  usage: 'backtrack compact [--tenant ID] [--json]',
  options: { tenant: { type: 'string' }, json: { type: 'boolean' } },
  run: async ({ config, log, flags, print }) => {
    const catalogConfig = requireSection(config, 'catalog', 'compact');
    const catalog = createPgPool(catalogConfig.url, {
      applicationName: 'backtrack-compact',
      max: 3,
    });
    const store = createObjectStore(requireSection(config, 's3', 'compact'));
    try {
      await requireArchiveCatalog(catalog, catalogConfig.url);
      const report = await runCompaction(
        {
          catalog,
          store,
          keyring: keyringFrom(config.encryption),
          targetBytes: config.archiver.compactionTargetBytes,
          graceMs: config.archiver.compactionGraceMs,
          log,
        },
        { tenant: typeof flags.tenant === 'string' ? flags.tenant : undefined },
      );
      const failed = report.merges.filter((m) => m.status === 'failed');
      if (flags.json === true) {
        print(JSON.stringify(report));
      } else if (!report.ran) {
        print('another compaction is running; nothing done');
      } else {
        for (const merge of report.merges) {
          const what = `${merge.replaced.length} segments of ${merge.tenant}`;
          if (merge.status === 'merged')
            print(`merged ${what} (${merge.events} events) into ${merge.key}`);
          else print(`${merge.status} ${what}: ${merge.message ?? ''}`);
        }
        print(
          `${report.merges.filter((m) => m.status === 'merged').length} merge(s), ${failed.length} failed; ${report.deletedObjects} compacted object(s) deleted`,
        );
      }
      return failed.length > 0 || report.deleteFailures.length > 0 ? EXIT.FAILED : EXIT.OK;
    } finally {
      await catalog.end();
      store.destroy();
    }
  },
};
