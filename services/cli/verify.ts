/** `backtrack verify`: re-reads every stored object and reports per object. */
import { keyringFrom } from '../../shared/archive/encryption.js';
import { requireArchiveCatalog } from '../../shared/catalog/readiness.js';
import { requireSection } from '../../shared/config/index.js';
import { createPgPool } from '../../shared/pg/index.js';
import { createObjectStore } from '../../shared/s3/index.js';
import { runVerify } from '../archiver/index.js';

import type { Command } from './command.js';
import { EXIT } from './exit-codes.js';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 're-read every segment and snapshot object: checksum, decryption, decoding, counts',
  usage: 'backtrack verify [--tenant ID] [--json]',
  options: { tenant: { type: 'string' }, json: { type: 'boolean' } },
  run: async ({ config, log, flags, print }) => {
    const catalogConfig = requireSection(config, 'catalog', 'verify');
    const catalog = createPgPool(catalogConfig.url, {
      applicationName: 'backtrack-verify',
      max: 4,
    });
    const store = createObjectStore(requireSection(config, 's3', 'verify'));
    try {
      await requireArchiveCatalog(catalog, catalogConfig.url);
      const report = await runVerify(
        { catalog, store, keyring: keyringFrom(config.encryption), log },
        { tenant: typeof flags.tenant === 'string' ? flags.tenant : undefined },
      );
      if (flags.json === true) {
        print(JSON.stringify(report));
      } else {
        for (const object of report.objects) {
          if (object.status === 'ok') continue;
          print(
            `${object.status.toUpperCase()} ${object.kind} ${object.key}: ${object.problems.join('; ')}`,
          );
        }
        for (const gap of report.gaps) {
          print(
            `warning: ${gap.topic}[${gap.partition}] offsets [${gap.from}, ${gap.to}) are not archived (coverage gap)`,
          );
        }
        for (const key of report.orphans) print(`warning: ${key} is not in the catalog (orphan)`);
        const { ok, corrupt, missing, unreadable } = report.counts;
        print(
          `verified ${report.objects.length} object(s): ${ok} ok, ${corrupt} corrupt, ${missing} missing, ${unreadable} unreadable; ${report.gaps.length} gap(s), ${report.orphans.length} orphan(s)`,
        );
      }
      return report.ok ? EXIT.OK : EXIT.FAILED;
    } finally {
      await catalog.end();
      store.destroy();
    }
  },
};
