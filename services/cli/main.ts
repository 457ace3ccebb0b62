/**
 * `backtrack` — the operator CLI and the composition root of every service. Parses the
 * command line, loads the configuration once, runs the command, exits with a code from
 * exit-codes.ts. The only module that touches process.env, signals and process.exit.
 */
import { parseArgs } from 'node:util';

import { loadConfig } from '../../shared/config/index.js';
import { describeError, isBacktrackError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logging.js';

import { apiCommand, runCommand } from './api.js';
import { archiveCommand } from './archive.js';
import { captureCommand } from './capture.js';
import type { Command } from './command.js';
import { compactCommand } from './compact.js';
import { EXIT, exitCodeOf } from './exit-codes.js';
import { migrateCommand } from './migrate.js';
import { restorePointsCommand } from './restore-points.js';
import { restoreCommand, rollbackCommand } from './restore.js';
import { setupCommand } from './setup.js';
import { snapshotCommand } from './snapshot.js';
import { verifyCommand } from './verify.js';

// The pinned AWS SDK supports Node 20; its notice concerns releases after January 2027.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const COMMANDS: readonly Command[] = [
  migrateCommand,
  setupCommand,
  runCommand,
  captureCommand,
  archiveCommand,
  apiCommand,
  snapshotCommand,
  restorePointsCommand,
  restoreCommand,
  rollbackCommand,
  verifyCommand,
  compactCommand,
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: backtrack <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Configuration comes from BACKTRACK_* environment variables, or a file of them named by',
    'BACKTRACK_CONFIG_FILE (the local stack writes .stack/backtrack.env). See the README.',
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(help());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`backtrack: unknown command "${name}"\n\n${help()}`);
    return EXIT.USAGE;
  }

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: command.options,
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    console.error(`backtrack ${name}: ${describeError(e)}\nusage: ${command.usage}`);
    return EXIT.USAGE;
  }

  const controller = new AbortController();
  const abort = (): void => controller.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);

  try {
    const config = loadConfig(process.env);
    // Logs go to stderr so that stdout carries only the command's result (e.g. --json).
    const log = createLogger({ level: config.logLevel, name: 'cli' }, process.stderr);
    const code = await command.run({
      config,
      log,
      flags: parsed.values,
      positionals: parsed.positionals,
      print: (line) => console.log(line),
      note: (line) => console.error(line),
      signal: controller.signal,
    });
    return code ?? EXIT.OK;
  } catch (e) {
    const code = isBacktrackError(e) ? e.code : 'ERROR';
    console.error(`backtrack ${name}: ${code}: ${describeError(e)}`);
    return exitCodeOf(e);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`backtrack: ${describeError(e)}`);
    process.exit(EXIT.FAILED);
  },
);
