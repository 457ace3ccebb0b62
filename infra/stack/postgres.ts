/**
 * A throw-away PostgreSQL cluster for the stack: initdb as the `postgres` user (never
 * root), wal_level=logical, enough slots and senders for parallel tests, loopback only.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { identifySystem, withPgConnection } from '../../shared/pg/index.js';

import { isRoot, runAsPostgresOwner, tail } from './processes.js';

/** A running cluster. */
export interface PostgresServer {
  readonly dataDir: string;
  readonly logFile: string;
  readonly port: number;
  readonly superuser: string;
  readonly password: string;
  /** Connection string of the `backtrack` database as the superuser. */
  readonly url: string;
}

/** The database the stack creates for Backtrack (source and catalog alike). */
export const STACK_DATABASE = 'backtrack';

const SETTINGS = `
# Written by infra/stack for tests and the demo. Not a production configuration:
# fsync is off because the tests kill Backtrack's processes, never this server.
listen_addresses = '127.0.0.1'
wal_level = logical
max_replication_slots = 64
max_wal_senders = 64
max_connections = 400
shared_buffers = 256MB
fsync = off
full_page_writes = off
wal_sender_timeout = 60s
logical_decoding_work_mem = 64MB
max_wal_size = 2GB
log_min_messages = warning
log_line_prefix = '%m [%p] %q%a '
`;

function postgresOwn(path: string): void {
  if (!isRoot()) return;
  const ids = runAsPostgresOwner('id', ['-u']);
  const gids = runAsPostgresOwner('id', ['-g']);
  chownSync(path, Number(ids.stdout.trim()), Number(gids.stdout.trim()));
}

function must(
  result: { status: number | null; stderr: string; stdout: string },
  what: string,
): void {
  if (result.status !== 0)
    throw new Error(`${what} failed:\n${(result.stderr || result.stdout).trim()}`);
}

/** Initialises and starts a cluster on `port` under `root`. */
export function startPostgres(root: string, bin: string, port: number): PostgresServer {
  const dataDir = join(root, 'postgres');
  const logFile = join(root, 'postgres.log');
  const password = randomBytes(12).toString('hex');
  const superuser = 'postgres';
  mkdirSync(dataDir, { mode: 0o700 });
  postgresOwn(dataDir);
  writeFileSync(logFile, '');
  postgresOwn(logFile);
  const pwfile = join(root, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  postgresOwn(pwfile);

  must(
    runAsPostgresOwner(join(bin, 'initdb'), [
      '-D',
      dataDir,
      '-U',
      superuser,
      `--pwfile=${pwfile}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
      '--no-instructions',
    ]),
    'initdb',
  );
  appendFileSync(
    join(dataDir, 'postgresql.conf'),
    `${SETTINGS}port = ${port}\nunix_socket_directories = '${dataDir}'\n`,
  );
  chmodSync(pwfile, 0o600);

  const started = runAsPostgresOwner(join(bin, 'pg_ctl'), [
    '-D',
    dataDir,
    '-l',
    logFile,
    '-w',
    '-t',
    '60',
    'start',
  ]);
  if (started.status !== 0) {
    throw new Error(
      `postgres failed to start:\n${started.stderr.trim()}\n--- ${logFile} ---\n${tail(logFile)}`,
    );
  }
  return {
    dataDir,
    logFile,
    port,
    superuser,
    password,
    url: `postgres://${superuser}:${password}@127.0.0.1:${port}/${STACK_DATABASE}`,
  };
}

/** Creates the `backtrack` database and proves a replication connection works. */
export async function preparePostgres(server: PostgresServer): Promise<string> {
  const adminUrl = server.url.replace(new RegExp(`/${STACK_DATABASE}$`), '/postgres');
  const version = await withPgConnection(adminUrl, 'backtrack-stack', async (db) => {
    const existing = await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      STACK_DATABASE,
    ]);
    if (existing.rowCount === 0) await db.query(`CREATE DATABASE ${STACK_DATABASE}`);
    const result = await db.query('SHOW server_version');
    const version = result.rows[0]?.server_version;
    return typeof version === 'string' ? version : 'unknown';
  });
  await identifySystem(server.url);
  return version;
}

/** Stops the cluster (fast shutdown: open sessions are rolled back). */
export function stopPostgres(bin: string, dataDir: string): void {
  runAsPostgresOwner(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']);
}

/** The postmaster's pid, from postmaster.pid; undefined when it is not running. */
export function postmasterPid(dataDir: string): number | undefined {
  const result = runAsPostgresOwner('head', ['-n', '1', join(dataDir, 'postmaster.pid')]);
  const pid = Number(result.stdout.trim());
  return result.status === 0 && pid > 0 ? pid : undefined;
}
