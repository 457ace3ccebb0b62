/**
 * Prints `N passed, N failed` from vitest JSON reports. A missing or unreadable report
 * (the run crashed before writing it) makes the exit status 1.
 */
import { existsSync, readFileSync } from 'node:fs';

import { z } from 'zod';

const report = z.object({
  numPassedTests: z.number(),
  numFailedTests: z.number(),
  numPendingTests: z.number().optional(),
  numTodoTests: z.number().optional(),
});

let passed = 0;
let failed = 0;
let missing = 0;
for (const file of process.argv.slice(2)) {
  const parsed = existsSync(file)
    ? report.safeParse(JSON.parse(readFileSync(file, 'utf8')))
    : undefined;
  if (!parsed?.success) {
    console.error(`no test report at ${file}: that run did not finish`);
    missing += 1;
    continue;
  }
  passed += parsed.data.numPassedTests;
  failed += parsed.data.numFailedTests;
  const skipped = (parsed.data.numPendingTests ?? 0) + (parsed.data.numTodoTests ?? 0);
  if (skipped > 0) console.error(`${file}: ${skipped} skipped or todo test(s)`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(missing > 0 || failed > 0 ? 1 : 0);
