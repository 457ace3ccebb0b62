/** `backtrack archive`: archives the transaction log to object storage until stopped. */
import { requireSection } from '../../shared/config/index.js';
import { startArchiver } from '../archiver/index.js';

import type { Command } from './command.js';
import { failpointHook } from './failpoints.js';

export const archiveCommand: Command = {
  name: 'archive',
  summary: 'archive the transaction log to object storage as per-tenant Avro segments',
  usage: 'backtrack archive',
  options: {},
  run: async ({ config, log, signal }) => {
    const archiver = await startArchiver({
      kafka: requireSection(config, 'kafka', 'archive'),
      s3: requireSection(config, 's3', 'archive'),
      catalog: requireSection(config, 'catalog', 'archive'),
      archiver: config.archiver,
      encryption: config.encryption,
      log,
      failpoint: failpointHook(config.failpoints, log),
    });
    const stopped = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    // A signal stops the archiver (it flushes what it holds and exits 0); a failure ends
    // the command with its error.
    await Promise.race([stopped, archiver.done]);
    await archiver.stop();
    await archiver.done;
  },
};
