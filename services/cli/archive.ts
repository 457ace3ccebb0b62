/** `backtrack archive`: archives the transaction log to object storage until stopped. */
import { requireSection } from '../../shared/config/index.js';
import type { Logger } from '../../shared/logging.js';
import { startArchiver } from '../archiver/index.js';

import type { Command } from './command.js';

/**
 * The failpoint hook of BACKTRACK_FAILPOINTS (testing only): at a listed point (`name`, or
 * `name@N` for its N-th hit) the process kills itself with SIGKILL, exactly as `kill -9`
 * would, so tests can stop it between two steps of a flush.
 */
export function failpointHook(points: readonly string[], log: Logger): (name: string) => void {
  if (points.length === 0) return () => undefined;
  const wanted = new Map(
    points.map((point) => {
      const [name = point, nth = '1'] = point.split('@');
      return [name, Number(nth)];
    }),
  );
  const hits = new Map<string, number>();
  return (name) => {
    const nth = wanted.get(name);
    if (nth === undefined) return;
    const hit = (hits.get(name) ?? 0) + 1;
    hits.set(name, hit);
    if (hit !== nth) return;
    log.warn({ failpoint: name, hit }, 'failpoint reached: killing the process');
    process.kill(process.pid, 'SIGKILL');
  };
}

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
