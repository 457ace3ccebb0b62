/** Failpoints: named places where a test can have the process killed. */
import type { Logger } from '../../shared/logging.js';

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
