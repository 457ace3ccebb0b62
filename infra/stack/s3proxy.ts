/**
 * S3Proxy (filesystem-backed, aws-v2-or-v4 auth) from the Maven Central jars of
 * infra/maven/s3proxy: a real S3 protocol server for the stack.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { createObjectStore } from '../../shared/s3/index.js';

import { startDetached } from './processes.js';

/** A running S3Proxy. */
export interface S3Server {
  readonly pid: number;
  readonly port: number;
  readonly logFile: string;
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** The bucket the stack creates for Backtrack. */
export const STACK_BUCKET = 'backtrack';

const LOGBACK = `<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{20} - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="STDOUT"/></root>
  <logger name="org.gaul.s3proxy" level="INFO"/>
</configuration>
`;

/** Starts S3Proxy; returns before it answers (see s3Ready). */
export function startS3Proxy(root: string, java: string, jars: string, port: number): S3Server {
  const home = join(root, 's3proxy');
  const dataDir = join(home, 'data');
  mkdirSync(dataDir, { recursive: true });
  const accessKeyId = `bt${randomBytes(6).toString('hex')}`;
  const secretAccessKey = randomBytes(20).toString('hex');
  const endpoint = `http://127.0.0.1:${port}`;
  const properties = join(home, 's3proxy.properties');
  writeFileSync(
    properties,
    [
      `s3proxy.endpoint=${endpoint}`,
      's3proxy.authorization=aws-v2-or-v4',
      `s3proxy.identity=${accessKeyId}`,
      `s3proxy.credential=${secretAccessKey}`,
      'jclouds.provider=filesystem',
      `jclouds.filesystem.basedir=${dataDir}`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(home, 'logback.xml'), LOGBACK);
  const pid = launchS3Proxy(root, java, jars);
  return { pid, port, logFile: join(root, 's3proxy.log'), endpoint, accessKeyId, secretAccessKey };
}

/**
 * Starts S3Proxy from the configuration startS3Proxy wrote under `root` (again after a
 * stop: same port, credentials and data); returns its pid before it answers.
 */
export function launchS3Proxy(root: string, java: string, jars: string): number {
  const home = join(root, 's3proxy');
  const properties = join(home, 's3proxy.properties');
  const logback = join(home, 'logback.xml');
  const logFile = join(root, 's3proxy.log');
  return startDetached(
    java,
    [
      '-Xms64m',
      '-Xmx512m',
      `-Dlogback.configurationFile=${logback}`,
      '-cp',
      `${jars}/*`,
      'org.gaul.s3proxy.Main',
      '--properties',
      properties,
    ],
    logFile,
    home,
  );
}

/** Proves the server answers a signed bucket listing, and creates the stack's bucket. */
export async function s3Ready(
  server: Pick<S3Server, 'endpoint' | 'accessKeyId' | 'secretAccessKey'>,
): Promise<void> {
  const store = createObjectStore({
    bucket: STACK_BUCKET,
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    forcePathStyle: true,
  });
  try {
    await store.listBuckets();
    await store.ensureBucket();
  } finally {
    store.destroy();
  }
}
