/**
 * The local stack: PostgreSQL, Kafka and S3Proxy on loopback, on free ports, in a temporary
 * folder. `up` is idempotent (a healthy running stack is reused) and waits until each
 * server really answers; `down` leaves no process and no data folder behind.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

import { identifySystem } from '../../shared/pg/index.js';

import { kafkaReady, startKafka } from './kafka.js';
import { ensureJars, jarVersion } from './maven.js';
import {
  DATA_DIR_PREFIX,
  LOCK_FILE,
  REPO_ROOT,
  SETTINGS_FILE,
  STACK_DIR,
  STATE_FILE,
} from './paths.js';
import { freePorts } from './ports.js';
import { postmasterPid, preparePostgres, startPostgres, stopPostgres } from './postgres.js';
import { findToolchain } from './prerequisites.js';
import { isAlive, processesMentioning, stopProcessGroup, tail, until } from './processes.js';
import { s3Ready, STACK_BUCKET, startS3Proxy } from './s3proxy.js';
import { readSettings, settingsOf, writeSettings } from './settings.js';
import { readState, type StackState, writeState } from './state.js';

/** Where progress lines go. */
export type Out = (line: string) => void;

/** The outcome of {@link stackUp}. */
export interface StackUp {
  readonly state: StackState;
  readonly reused: boolean;
  readonly settingsFile: string;
  readonly settings: Record<string, string>;
}

/** Data folders of this checkout carry this marker, so `down` finds our orphans only. */
const MARKER = `${DATA_DIR_PREFIX}${createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 8)}-`;

const READY_TIMEOUT_MS = 120_000;

/** A failure of one server, with the tail of its log. */
class ServerFailed extends Error {
  constructor(server: string, reason: string, logFile: string, cause?: unknown) {
    super(`${server} failed: ${reason}\n--- last lines of ${logFile} ---\n${tail(logFile)}`, {
      cause,
    });
  }
}

async function acquireLock(): Promise<() => void> {
  mkdirSync(STACK_DIR, { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      const fd = openSync(LOCK_FILE, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(LOCK_FILE, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(existsSync(LOCK_FILE) ? readFileSync(LOCK_FILE, 'utf8') : '0');
      if (!holder || !isAlive(holder)) {
        rmSync(LOCK_FILE, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`the stack is locked by process ${holder}`, { cause: e });
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Retries `check` until it passes; fails at once if the process died. */
async function waitReady(
  server: string,
  check: () => Promise<unknown>,
  alive: () => boolean,
  logFile: string,
): Promise<number> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < READY_TIMEOUT_MS) {
    if (!alive()) throw new ServerFailed(server, 'the process exited', logFile);
    try {
      await check();
      return Date.now() - started;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const reason = last instanceof Error ? last.message : String(last);
  throw new ServerFailed(
    server,
    `no answer within ${READY_TIMEOUT_MS / 1000} s (${reason})`,
    logFile,
    last,
  );
}

function postgresAlive(state: StackState): boolean {
  const pid = postmasterPid(state.postgres.dataDir);
  return pid !== undefined && isAlive(pid);
}

async function healthy(state: StackState): Promise<boolean> {
  if (!postgresAlive(state) || !isAlive(state.kafka.pid) || !isAlive(state.s3.pid)) return false;
  if (!existsSync(SETTINGS_FILE)) return false;
  const settings = readSettings(SETTINGS_FILE);
  try {
    await Promise.all([
      identifySystem(state.postgres.url),
      kafkaReady(state.kafka.bootstrap),
      s3Ready({
        endpoint: state.s3.endpoint,
        accessKeyId: settings.BACKTRACK_S3_ACCESS_KEY_ID ?? '',
        secretAccessKey: settings.BACKTRACK_S3_SECRET_ACCESS_KEY ?? '',
      }),
    ]);
    return true;
  } catch {
    return false;
  }
}

/** The pieces of a stack to stop; any may be missing after a failed start. */
interface Parts {
  readonly root: string;
  readonly kafkaPid?: number;
  readonly s3Pid?: number;
  readonly postgres?: { readonly bin: string; readonly dataDir: string };
}

function partsOf(state: StackState): Parts {
  return {
    root: state.dataDir,
    kafkaPid: state.kafka.pid,
    s3Pid: state.s3.pid,
    postgres: { bin: state.postgres.bin, dataDir: state.postgres.dataDir },
  };
}

async function teardown(parts: Parts | undefined, out: Out): Promise<void> {
  if (parts) {
    await Promise.all(
      [parts.kafkaPid, parts.s3Pid].flatMap((pid) =>
        pid === undefined ? [] : [stopProcessGroup(pid)],
      ),
    );
    if (parts.postgres && existsSync(parts.postgres.dataDir)) {
      const pid = postmasterPid(parts.postgres.dataDir);
      stopPostgres(parts.postgres.bin, parts.postgres.dataDir);
      if (pid !== undefined && !(await until(() => !isAlive(pid), 30_000, 200))) {
        await stopProcessGroup(pid, 5_000);
      }
    }
    rmSync(parts.root, { recursive: true, force: true });
  }
  // Processes and folders of a stack whose state file was lost.
  const orphans = processesMentioning(MARKER);
  if (orphans.length > 0)
    out(`stack: stopping ${orphans.length} leftover process(es) of an earlier stack`);
  await Promise.all(orphans.map((pid) => stopProcessGroup(pid, 10_000)));
  for (const entry of readdirSync(tmpdir())) {
    if (entry.startsWith(MARKER)) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
}

/** Starts the stack, or reuses the running one when it answers. */
export async function stackUp(out: Out): Promise<StackUp> {
  const release = await acquireLock();
  try {
    const existing = readState(STATE_FILE);
    if (existing && (await healthy(existing))) {
      return {
        state: existing,
        reused: true,
        settingsFile: SETTINGS_FILE,
        settings: readSettings(SETTINGS_FILE),
      };
    }
    if (existing) out('stack: the recorded stack does not answer; replacing it');
    await teardown(existing && partsOf(existing), out);
    return { ...(await startFresh(out)), reused: false };
  } finally {
    release();
  }
}

async function startFresh(out: Out): Promise<Omit<StackUp, 'reused'>> {
  const tools = findToolchain();
  const began = Date.now();
  const kafkaJars = ensureJars('kafka', tools.mvn);
  const s3Jars = ensureJars('s3proxy', tools.mvn);
  out(`stack: jars ready in ${((Date.now() - began) / 1000).toFixed(1)} s`);

  const root = mkdtempSync(join(tmpdir(), MARKER));
  chmodSync(root, 0o755); // the postgres user must traverse it to its own data folder
  const [pgPort = 0, kafkaPort = 0, controllerPort = 0, s3Port = 0] = await freePorts(4);

  const kafka = startKafka(root, tools.java, kafkaJars, kafkaPort, controllerPort);
  const s3 = startS3Proxy(root, tools.java, s3Jars, s3Port);
  const parts: Parts = {
    root,
    kafkaPid: kafka.pid,
    s3Pid: s3.pid,
    postgres: { bin: tools.postgresBin, dataDir: join(root, 'postgres') },
  };
  try {
    const postgres = startPostgres(root, tools.postgresBin, pgPort);
    const state: StackState = {
      dataDir: root,
      startedAt: new Date().toISOString(),
      postgres: {
        bin: tools.postgresBin,
        dataDir: postgres.dataDir,
        port: pgPort,
        url: postgres.url,
        version: tools.postgresVersion,
        logFile: postgres.logFile,
      },
      kafka: {
        pid: kafka.pid,
        port: kafkaPort,
        controllerPort,
        bootstrap: kafka.bootstrap,
        version: jarVersion(kafkaJars, 'kafka_2.13'),
        logFile: kafka.logFile,
      },
      s3: {
        pid: s3.pid,
        port: s3Port,
        endpoint: s3.endpoint,
        bucket: STACK_BUCKET,
        version: jarVersion(s3Jars, 's3proxy'),
        logFile: s3.logFile,
      },
    };
    // Recorded before the servers answer, so that `down` can clean up a failed start.
    writeState(STATE_FILE, state);

    const [pgMs, kafkaMs, s3Ms] = await Promise.all([
      waitReady(
        'postgres',
        () => preparePostgres(postgres),
        () => postgresAlive(state),
        postgres.logFile,
      ),
      waitReady(
        'kafka',
        () => kafkaReady(kafka.bootstrap),
        () => isAlive(kafka.pid),
        kafka.logFile,
      ),
      waitReady(
        's3proxy',
        () => s3Ready(s3),
        () => isAlive(s3.pid),
        s3.logFile,
      ),
    ]);
    const settings = settingsOf({
      postgresUrl: postgres.url,
      kafkaBootstrap: kafka.bootstrap,
      s3Endpoint: s3.endpoint,
      s3Bucket: STACK_BUCKET,
      s3AccessKeyId: s3.accessKeyId,
      s3SecretAccessKey: s3.secretAccessKey,
    });
    writeSettings(SETTINGS_FILE, settings);
    out(
      `stack: postgres ${state.postgres.version} ready on 127.0.0.1:${pgPort} (${(pgMs / 1000).toFixed(1)} s)`,
    );
    out(
      `stack: kafka ${state.kafka.version} (KRaft) ready on ${kafka.bootstrap} (${(kafkaMs / 1000).toFixed(1)} s)`,
    );
    out(
      `stack: s3proxy ${state.s3.version} ready on ${s3.endpoint}, bucket ${STACK_BUCKET} (${(s3Ms / 1000).toFixed(1)} s)`,
    );
    return { state, settingsFile: SETTINGS_FILE, settings };
  } catch (e) {
    out('stack: start failed; stopping what was started');
    await teardown(parts, out);
    rmSync(STATE_FILE, { force: true });
    throw e;
  }
}

/** Stops the stack and removes its data folder and state. */
export async function stackDown(out: Out): Promise<boolean> {
  const release = await acquireLock();
  try {
    const state = readState(STATE_FILE);
    await teardown(state && partsOf(state), out);
    return state !== undefined;
  } finally {
    release();
    rmSync(STACK_DIR, { recursive: true, force: true });
  }
}

/** What runs, per server. */
export async function stackStatus(): Promise<{
  state: StackState | undefined;
  healthy: boolean;
  settingsFile: string;
}> {
  const state = readState(STATE_FILE);
  return {
    state,
    healthy: state !== undefined && (await healthy(state)),
    settingsFile: relative(process.cwd(), SETTINGS_FILE),
  };
}
