/** Instants as Backtrack writes them: microseconds since the Unix epoch, shown in ISO-8601 UTC. */

/** An instant (µs since the epoch) as ISO-8601 UTC with microseconds. */
export function formatInstant(us: bigint): string {
  const ms = Number(us / 1000n);
  const iso = new Date(ms).toISOString();
  const micros = (us % 1_000_000n).toString().padStart(6, '0');
  return `${iso.slice(0, 19)}.${micros}Z`;
}
