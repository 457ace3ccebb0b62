/**
 * `backtrack <command>` in its own process, for the demo and the benchmarks: the real CLI
 * from the TypeScript sources, with an environment of its own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = ['--import', 'tsx', 'services/cli/main.ts'];

/** The current environment without BACKTRACK_* variables, plus `settings`. */
export function cliEnvironment(settings: Record<string, string>): Record<string, string> {
  const base = Object.entries(process.env).filter(
    (e): e is [string, string] => e[1] !== undefined && !e[0].startsWith('BACKTRACK_'),
  );
  return {
    ...Object.fromEntries(base),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...settings,
  };
}

/** What a finished `backtrack` process printed, and its peak resident memory. */
export interface Finished {
  readonly stdout: string;
  /** VmHWM sampled every 50 ms while it ran (bytes; 0 where /proc is not available). */
  readonly peakRssBytes: number;
  readonly wallMs: number;
}

/** Reads a process's peak resident set (VmHWM) from /proc; 0 when unavailable. */
async function peakRss(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

/** Runs `backtrack <args>` to completion; rejects with everything it printed unless it exits 0. */
export function runBacktrack(
  env: Record<string, string>,
  args: readonly string[],
  nodeArgs: readonly string[] = [],
): Promise<Finished> {
  return new Promise((done, fail) => {
    const started = Date.now();
    const child = spawn(process.execPath, [...nodeArgs, ...CLI, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let peak = 0;
    const sampler = setInterval(() => {
      if (child.pid !== undefined) {
        void peakRss(child.pid).then((bytes) => (peak = Math.max(peak, bytes)));
      }
    }, 50);
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', (e) => {
      clearInterval(sampler);
      fail(e);
    });
    child.on('exit', (code) => {
      clearInterval(sampler);
      if (code === 0) done({ stdout: out, peakRssBytes: peak, wallMs: Date.now() - started });
      else fail(new Error(`backtrack ${args.join(' ')} exited ${code}:\n${out}${err}`));
    });
  });
}

/** Long-running `backtrack` processes (capture, archive), stopped together. */
export class BackgroundCommands {
  private readonly children: ChildProcess[] = [];
  private stopping = false;

  constructor(private readonly env: Record<string, string>) {}

  /** Starts `backtrack <command>`; if it dies on its own, stops the others and exits 1. */
  start(command: string): void {
    const child = spawn(process.execPath, [...CLI, command], {
      cwd: ROOT,
      env: this.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // Its warnings (retries of the Kafka client and the like) are shown only if it fails.
    let said = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      said = (said + chunk.toString()).slice(-20_000);
    });
    child.on('exit', (code, signal) => {
      if (this.stopping || (code === 0 && signal === null)) return;
      console.error(
        `backtrack ${command} stopped unexpectedly (${signal ?? `exit ${code}`}):\n${said}`,
      );
      for (const other of this.children) other.kill('SIGTERM');
      process.exit(1);
    });
    this.children.push(child);
  }

  /** SIGTERM to each, and waits for them to exit. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.on('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}
