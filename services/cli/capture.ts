/** `backtrack capture`: streams the source into the Kafka transaction log until stopped. */
import { requireSection } from '../../shared/config/index.js';
import { startCapture } from '../capture/index.js';

import type { Command } from './command.js';
import { failpointHook } from './failpoints.js';

export const captureCommand: Command = {
  name: 'capture',
  summary: 'stream every committed change of the source into the Kafka transaction log',
  usage: 'backtrack capture',
  options: {},
  run: async ({ config, log, signal }) => {
    const capture = await startCapture({
      source: requireSection(config, 'source', 'capture'),
      kafka: requireSection(config, 'kafka', 'capture'),
      capture: config.capture,
      s3: config.s3,
      encryption: config.encryption,
      catalog: config.catalog,
      failpoint: failpointHook(config.failpoints, log),
      log,
    });
    const stopped = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    // Either a signal asks capture to stop (it then finishes or abandons its Kafka
    // transaction and the command exits 0), or capture fails and the error ends the command.
    await Promise.race([stopped, capture.done]);
    await capture.stop();
    await capture.done;
  },
};
