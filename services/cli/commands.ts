/** The table of `backtrack` commands. */
import type { Command } from './command.js';

/**
 * Every command, loaded only when it runs (or when help lists them all): a command imports
 * no service it does not use, so `backtrack capture` starts without the API, the archiver
 * or the restore engine.
 */
export const COMMANDS: readonly { readonly name: string; load(): Promise<Command> }[] = [
  { name: 'migrate', load: async () => (await import('./migrate.js')).migrateCommand },
  { name: 'setup', load: async () => (await import('./setup.js')).setupCommand },
  { name: 'run', load: async () => (await import('./api.js')).runCommand },
  { name: 'capture', load: async () => (await import('./capture.js')).captureCommand },
  { name: 'archive', load: async () => (await import('./archive.js')).archiveCommand },
  { name: 'api', load: async () => (await import('./api.js')).apiCommand },
  { name: 'snapshot', load: async () => (await import('./snapshot.js')).snapshotCommand },
  {
    name: 'restore-points',
    load: async () => (await import('./restore-points.js')).restorePointsCommand,
  },
  { name: 'restore', load: async () => (await import('./restore.js')).restoreCommand },
  { name: 'rollback', load: async () => (await import('./restore.js')).rollbackCommand },
  { name: 'verify', load: async () => (await import('./verify.js')).verifyCommand },
  { name: 'compact', load: async () => (await import('./compact.js')).compactCommand },
];

/** The usage text, listing every command. */
export async function help(): Promise<string> {
  const commands = await Promise.all(COMMANDS.map((c) => c.load()));
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: backtrack <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Configuration comes from BACKTRACK_* environment variables, or a file of them named by',
    'BACKTRACK_CONFIG_FILE (the local stack writes .stack/backtrack.env). See the README.',
  ].join('\n');
}
