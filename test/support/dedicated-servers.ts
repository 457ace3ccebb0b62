/**
 * A Kafka broker or an S3Proxy of one test's own, for tests that stop a server: stopping
 * the shared stack's would break the tests running beside them. Same jars and launcher as
 * the local stack (infra/stack); each lives in its own temporary folder, on free ports,
 * and can be stopped and started again on the same port and data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { kafkaReady, launchKafka, startKafka } from '../../infra/stack/kafka.js';
import { ensureJars } from '../../infra/stack/maven.js';
import { freePorts } from '../../infra/stack/ports.js';
import { findToolchain } from '../../infra/stack/prerequisites.js';
import { isAlive, stopProcessGroup, tail } from '../../infra/stack/processes.js';
import { launchS3Proxy, s3Ready, startS3Proxy } from '../../infra/stack/s3proxy.js';

import { waitFor } from './wait-for.js';

/** A server a test may stop and start again. */
export interface DedicatedServer {
  /** Kills the server (SIGKILL): clients see connections refused. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data, and waits until it answers. */
  start(): Promise<void>;
  /** Stops it for good and removes its folder. */
  dispose(): Promise<void>;
}

/** A dedicated Kafka broker. */
export interface DedicatedKafka extends DedicatedServer {
  readonly bootstrap: string;
}

/** A dedicated S3Proxy, with the bucket `backtrack` created. */
export interface DedicatedS3 extends DedicatedServer {
  readonly endpoint: string;
  readonly bucket: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

async function answered(
  what: string,
  check: () => Promise<void>,
  logFile: string,
  pid: () => number,
): Promise<void> {
  await waitFor(
    async () => {
      if (!isAlive(pid())) throw new Error(`${what} exited:\n${tail(logFile)}`);
      await check();
      return true;
    },
    { timeoutMs: 120_000, intervalMs: 500, what: `${what} to answer` },
  );
}

/** Starts a Kafka broker of the test's own. */
export async function startDedicatedKafka(): Promise<DedicatedKafka> {
  const tools = findToolchain();
  const jars = ensureJars('kafka', tools.mvn);
  const root = mkdtempSync(join(tmpdir(), 'backtrack-test-kafka-'));
  const [port = 0, controllerPort = 0] = await freePorts(2);
  let server = startKafka(root, tools.java, jars, port, controllerPort);
  const ready = (): Promise<void> =>
    answered(
      'dedicated Kafka',
      () => kafkaReady(server.bootstrap),
      server.logFile,
      () => server.pid,
    );
  await ready();
  return {
    bootstrap: server.bootstrap,
    stop: () => stopProcessGroup(server.pid, 0),
    start: async () => {
      server = launchKafka(root, tools.java, jars, port, controllerPort);
      await ready();
    },
    dispose: async () => {
      await stopProcessGroup(server.pid, 0);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Starts an S3Proxy of the test's own. */
export async function startDedicatedS3(): Promise<DedicatedS3> {
  const tools = findToolchain();
  const jars = ensureJars('s3proxy', tools.mvn);
  const root = mkdtempSync(join(tmpdir(), 'backtrack-test-s3-'));
  const [port = 0] = await freePorts(1);
  const server = startS3Proxy(root, tools.java, jars, port);
  let pid = server.pid;
  const ready = (): Promise<void> =>
    answered(
      'dedicated S3Proxy',
      () => s3Ready(server),
      server.logFile,
      () => pid,
    );
  await ready();
  return {
    endpoint: server.endpoint,
    bucket: 'backtrack',
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    stop: () => stopProcessGroup(pid, 0),
    start: async () => {
      pid = launchS3Proxy(root, tools.java, jars);
      await ready();
    },
    dispose: async () => {
      await stopProcessGroup(pid, 0);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
