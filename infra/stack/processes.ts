/** Starting, finding and stopping the stack's server processes. */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { openSync, readdirSync, readFileSync, closeSync, existsSync } from 'node:fs';

/** True while a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Starts a long-running process detached, its output appended to `logFile`. */
export function startDetached(
  command: string,
  args: readonly string[],
  logFile: string,
  cwd: string,
): number {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Resolves once `condition()` holds, or rejects after `timeoutMs`. */
export async function until(
  condition: () => boolean,
  timeoutMs: number,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return condition();
}

/** SIGTERM to the process group, then SIGKILL if it is still there after `graceMs`. */
export async function stopProcessGroup(pid: number, graceMs = 20_000): Promise<void> {
  if (!isAlive(pid)) return;
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signal('SIGTERM');
  if (await until(() => !isAlive(pid), graceMs, 200)) return;
  signal('SIGKILL');
  await until(() => !isAlive(pid), 5_000, 100);
}

/** Pids of processes whose command line mentions `marker` (orphans of a lost stack). */
export function processesMentioning(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(marker)) pids.push(pid);
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

/** The last `lines` lines of a log file, for error messages. */
export function tail(file: string, lines = 40): string {
  if (!existsSync(file)) return `(no log at ${file})`;
  const text = readFileSync(file, 'utf8').trimEnd().split('\n');
  return text.slice(-lines).join('\n');
}

/** True when running as root (the Postgres tools must then run as `postgres`). */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Runs a command to completion, as the `postgres` user when we are root. */
export function runAsPostgresOwner(
  command: string,
  args: readonly string[],
): SpawnSyncReturns<string> {
  const [cmd, argv] = isRoot()
    ? ['runuser', ['-u', 'postgres', '--', command, ...args]]
    : [command, args];
  return spawnSync(cmd, argv, { encoding: 'utf8' });
}

/** Runs a command to completion and returns its output; throws with stderr on failure. */
export function run(command: string, args: readonly string[], what: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error) throw new Error(`${what}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(
      `${what} failed (exit ${result.status}):\n${(result.stderr || result.stdout).trim()}`,
    );
  }
  return result.stdout;
}
