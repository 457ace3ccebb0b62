/**
 * Finds the programs the stack needs and says how to get the missing ones.
 * `make prerequisites` (infra/prerequisites.sh) installs them on Debian/Ubuntu.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Tools the stack runs. */
export interface Toolchain {
  /** Folder with initdb, pg_ctl, postgres (the newest installed major version ≥ 15). */
  readonly postgresBin: string;
  readonly postgresVersion: string;
  readonly java: string;
  readonly mvn: string;
}

const MIN_POSTGRES_MAJOR = 15;

function which(name: string): string | undefined {
  const result = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = result.stdout.trim();
  return result.status === 0 && path ? path : undefined;
}

function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root)
      .filter((v) => /^\d+$/.test(v) && Number(v) >= MIN_POSTGRES_MAJOR)
      .sort((a, b) => Number(b) - Number(a));
    for (const major of majors) {
      const bin = join(root, major, 'bin');
      if (existsSync(join(bin, 'initdb'))) return bin;
    }
  }
  const initdb = which('initdb');
  return initdb ? join(initdb, '..') : undefined;
}

/** Finds the toolchain or throws one message listing everything missing and the fix. */
export function findToolchain(): Toolchain {
  const postgresBin = findPostgresBin();
  const java = which('java');
  const mvn = which('mvn');
  const missing: string[] = [];
  if (!postgresBin)
    missing.push(`PostgreSQL ${MIN_POSTGRES_MAJOR}+ server binaries (initdb, pg_ctl)`);
  if (!java) missing.push('Java 17+ (java)');
  if (!mvn) missing.push('Apache Maven (mvn)');
  if (!postgresBin || !java || !mvn) {
    throw new Error(
      `the local stack needs ${missing.join(', ')}; run \`make prerequisites\` (Debian/Ubuntu, as root) or install them yourself`,
    );
  }
  const version = spawnSync(join(postgresBin, 'postgres'), ['--version'], { encoding: 'utf8' });
  return {
    postgresBin,
    postgresVersion: version.stdout.trim().replace(/^postgres \(PostgreSQL\) /, ''),
    java,
    mvn,
  };
}
