/**
 * `backtrack` — the operator CLI and the composition root of every service. Parses the
 * command line, loads the configuration once, runs the command, exits with a code from
 * exit-codes.ts. The only module that touches process.env, signals and process.exit.
 */
import { parseArgs } from 'node:util';

import { loadConfig } from '../../shared/config/index.js';
import { describeError, isBacktrackError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logging.js';

import { COMMANDS, help } from './commands.js';
import { EXIT, exitCodeOf } from './exit-codes.js';

// The pinned AWS SDK supports Node 20; its notice concerns releases after January 2027.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(await help());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    console.error(`backtrack: unknown command "${name}"\n\n${await help()}`);
    return EXIT.USAGE;
  }
  const command = await entry.load();

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
