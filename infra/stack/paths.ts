/** Where the local stack keeps its state, settings and jars. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Folder of the running stack's state and settings (ignored by git). */
export const STACK_DIR = join(REPO_ROOT, '.stack');

/** The settings file (`BACKTRACK_*=value` lines) that the harness and the CLI read. */
export const SETTINGS_FILE = join(STACK_DIR, 'backtrack.env');

/** Process ids, ports and the data folder of the running stack. */
export const STATE_FILE = join(STACK_DIR, 'state.json');

/** Held while a stack starts or stops, so two callers do not race. */
export const LOCK_FILE = join(STACK_DIR, 'lock');

/** Cached runtime classpaths, one folder per Maven project under infra/maven. */
export const JARS_DIR = join(REPO_ROOT, 'infra', '.jars');

/** Maven projects that pin the Kafka and S3Proxy jars. */
export const MAVEN_DIR = join(REPO_ROOT, 'infra', 'maven');

/** Every data folder's name starts with this, which is how orphans are found. */
export const DATA_DIR_PREFIX = 'backtrack-stack-';
