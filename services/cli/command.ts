/** The shape of a CLI command. */
import type { Config } from '../../shared/config/index.js';
import type { Logger } from '../../shared/logging.js';

/** Option declarations, as node:util parseArgs takes them. */
export type OptionSpec = Record<
  string,
  { type: 'boolean' | 'string'; short?: string; multiple?: boolean }
>;

/** What a command receives. */
export interface CommandContext {
  readonly config: Config;
  readonly log: Logger;
  /** Parsed options. */
  readonly flags: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
  /** Writes a line to stdout (the command's result). */
  readonly print: (line: string) => void;
  /** Writes a line to stderr (progress, warnings). */
  readonly note: (line: string) => void;
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
}

/** One `backtrack <name>` command. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: OptionSpec;
  run(context: CommandContext): Promise<number | void>;
}
