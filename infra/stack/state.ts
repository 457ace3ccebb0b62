/** The state file of a running stack: what runs where, and what to remove on `down`. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

import { z } from 'zod';

const stateSchema = z.object({
  dataDir: z.string(),
  startedAt: z.string(),
  postgres: z.object({
    bin: z.string(),
    dataDir: z.string(),
    port: z.number(),
    url: z.string(),
    version: z.string(),
    logFile: z.string(),
  }),
  kafka: z.object({
    pid: z.number(),
    port: z.number(),
    controllerPort: z.number(),
    bootstrap: z.string(),
    version: z.string(),
    logFile: z.string(),
  }),
  s3: z.object({
    pid: z.number(),
    port: z.number(),
    endpoint: z.string(),
    bucket: z.string(),
    version: z.string(),
    logFile: z.string(),
  }),
});

/** What `up` recorded. */
export type StackState = z.infer<typeof stateSchema>;

/** Reads the state file; undefined when there is none or it cannot be parsed. */
export function readState(file: string): StackState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const parsed = stateSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the state file. */
export function writeState(file: string, state: StackState): void {
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}
