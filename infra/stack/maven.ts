/**
 * Fetches the runtime classpath of each Maven project under infra/maven into
 * infra/.jars/<name>. Maven caches downloads in ~/.m2; a stamp (the pom's hash) skips Maven
 * altogether when nothing changed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { JARS_DIR, MAVEN_DIR } from './paths.js';
import { run } from './processes.js';

/** The pinned plugin that copies the classpath (DESIGN §5). */
const COPY_DEPENDENCIES =
  'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies';

/** The folder of jars for `project` (kafka or s3proxy), fetched when missing or stale. */
export function ensureJars(project: 'kafka' | 's3proxy', mvn: string): string {
  const pom = join(MAVEN_DIR, project, 'pom.xml');
  const target = join(JARS_DIR, project);
  const stamp = join(target, '.stamp');
  const digest = createHash('sha256').update(readFileSync(pom)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return target;

  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  run(
    mvn,
    [
      '-B',
      '-q',
      '-f',
      pom,
      COPY_DEPENDENCIES,
      '-DincludeScope=runtime',
      `-DoutputDirectory=${target}`,
    ],
    `fetching the ${project} jars with Maven`,
  );
  writeFileSync(stamp, digest);
  return target;
}

/** The version of `artifact` in a jar folder, read from its file name (`kafka_2.13-3.9.2.jar`). */
export function jarVersion(folder: string, artifact: string): string {
  const pattern = new RegExp(`^${artifact.replace(/[.]/g, '\\.')}-(\\d[^-]*)\\.jar$`);
  for (const name of readdirSync(folder)) {
    const match = pattern.exec(name);
    if (match?.[1]) return match[1];
  }
  return 'unknown';
}
