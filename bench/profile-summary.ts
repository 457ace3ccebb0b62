/**
 * `npx tsx bench/profile-summary.ts FILE.cpuprofile`: where a process's time went, from a
 * V8 CPU profile (`--cpu-prof`, e.g. `BENCH_PROFILE=DIR npm run bench:capture`). Self time
 * is grouped into the stages of capture by the file each sample's function is in, with the
 * idle share (the process waiting: on Postgres, on Kafka, on timers) and GC apart, then the
 * functions with the most self time. `--from S` and `--until S` keep only the samples taken
 * that many seconds after the profile began (e.g. a benchmark's catch-up phase alone).
 */
import { readFileSync } from 'node:fs';

import { z } from 'zod';

const profileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() }),
    }),
  ),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

/** Stages, first match wins: a pattern on the function's file (or its name for V8's own). */
const STAGES: readonly (readonly [string, RegExp])[] = [
  ['idle (waiting for I/O or timers)', /^\(idle\)$/],
  ['garbage collection', /^\(garbage collector\)$/],
  ['pgoutput parsing', /shared\/pg\/pgoutput|pg-logical-replication/],
  ['replication protocol (pg)', /node_modules\/(pg|pg-protocol)\//],
  ['event building', /services\/capture\/(to-change-events|relation-cache|session)/],
  ['Avro encoding', /shared\/events\/|node_modules\/avsc\//],
  ['Kafka writer', /services\/capture\/(kafka-writer|durability)/],
  ['Kafka client (kafkajs)', /node_modules\/kafkajs\//],
  ['Kafka client (librdkafka)', /kafka-javascript|shared\/kafka\/librdkafka/],
  ['logging and metrics', /node_modules\/(pino|prom-client)|shared\/(logging|metrics)/],
  ['module loading and tsx', /node_modules\/(tsx|esbuild)|^node:internal\/modules/],
  ['program (V8)', /^\(program\)$/],
];

function stageOf(functionName: string, url: string): string {
  const subject = url === '' ? functionName : url;
  return STAGES.find(([, pattern]) => pattern.test(subject))?.[0] ?? 'other';
}

const args = process.argv.slice(2);
const option = (name: string): number | undefined => {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const value = Number(args.splice(at, 2)[1]);
  if (!Number.isFinite(value)) {
    console.error(`${name} takes a number of seconds`);
    process.exit(2);
  }
  return value * 1e6;
};
const fromUs = option('--from') ?? 0;
const untilUs = option('--until') ?? Number.POSITIVE_INFINITY;
const file = args[0];
if (!file) {
  console.error('usage: tsx bench/profile-summary.ts [--from S] [--until S] FILE.cpuprofile');
  process.exit(2);
}
const profile = profileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
const stageUs = new Map<string, number>();
const functionUs = new Map<string, number>();
let totalUs = 0;
let elapsedUs = 0;
profile.samples.forEach((id, i) => {
  const frame = byId.get(id);
  const delta = profile.timeDeltas[i] ?? 0;
  elapsedUs += delta;
  if (!frame || elapsedUs < fromUs || elapsedUs > untilUs) return;
  totalUs += delta;
  const stage = stageOf(frame.functionName, frame.url);
  stageUs.set(stage, (stageUs.get(stage) ?? 0) + delta);
  const where = frame.url.replace(/^.*\/(node_modules\/|work\/[^/]+\/)/, '');
  const name = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
  functionUs.set(name, (functionUs.get(name) ?? 0) + delta);
});

const pct = (us: number): string => `${((100 * us) / totalUs).toFixed(1).padStart(5)} %`;
const window =
  fromUs > 0 || untilUs < Number.POSITIVE_INFINITY
    ? ` (from ${fromUs / 1e6} s until ${untilUs / 1e6} s)`
    : '';
console.log(`${file}: ${(totalUs / 1e6).toFixed(2)} s sampled${window}`);
console.log('\nby stage (self time):');
for (const [stage, us] of [...stageUs].sort((a, b) => b[1] - a[1]))
  console.log(`  ${pct(us)}  ${(us / 1e6).toFixed(2).padStart(7)} s  ${stage}`);
console.log('\ntop functions (self time):');
for (const [name, us] of [...functionUs].sort((a, b) => b[1] - a[1]).slice(0, 15))
  console.log(`  ${pct(us)}  ${name}`);
