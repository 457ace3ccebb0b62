/**
 * `backtrack api` (the control API, its job workers and the scheduler) and `backtrack run`
 * (the same plus capture and the archiver, in one process for small deployments). Both run
 * until SIGINT/SIGTERM, then stop their parts in reverse order and exit 0; a part that
 * fails on its own (capture, the archiver) stops the others and ends the command with its
 * error.
 */
import { requireJobsCatalog } from '../../shared/catalog/jobs.js';
import { requireArchiveCatalog } from '../../shared/catalog/readiness.js';
import { type Clock, systemClock } from '../../shared/clock.js';
import {
  type ApiConfig,
  type Config,
  type JobsConfig,
  requireSection,
} from '../../shared/config/index.js';
import { createKafka } from '../../shared/kafka/index.js';
import { type Service, withTimeout } from '../../shared/lifecycle.js';
import { createPgPool } from '../../shared/pg/index.js';
import { createObjectStore } from '../../shared/s3/index.js';
import { startArchiver } from '../archiver/index.js';
import { startCapture } from '../capture/index.js';
import {
  type ControlApi,
  type Engines,
  type Scheduler,
  startControlApi,
  startScheduler,
  startWorkers,
  type Workers,
} from '../control-api/index.js';

import type { Command, CommandContext } from './command.js';
import { type EngineSettings, openEngines } from './engines.js';
import { failpointHook } from './failpoints.js';

/** What the control API process needs. */
export interface ApiStackSettings extends EngineSettings {
  readonly api: ApiConfig;
  readonly jobs: JobsConfig;
  readonly clock?: Clock;
  /** Names this process in job leases; host:pid:random when absent. */
  readonly owner?: string;
}

/** A running control API with its workers and scheduler. */
export interface ApiStack extends Service {
  readonly api: ControlApi;
  readonly workers: Workers;
  readonly scheduler: Scheduler;
  readonly engines: Engines;
}

/** Longest a stop waits for running jobs before it leaves them to their lease (ms). */
const STOP_TIMEOUT_MS = 150_000;

/**
 * Starts the control API, the workers and the scheduler on the given servers. Refuses to
 * start (CONFIG_INVALID) when the catalog is not migrated or no token verifier is set.
 */
export async function startApiStack(settings: ApiStackSettings): Promise<ApiStack> {
  const { log } = settings;
  const clock = settings.clock ?? systemClock;
  const catalog = createPgPool(settings.catalog.url, {
    applicationName: 'backtrack-api',
    max: 10,
  });
  const source = createPgPool(settings.source.url, { applicationName: 'backtrack-api', max: 4 });
  const store = createObjectStore(settings.s3);
  const closeClients = async (): Promise<void> => {
    await catalog.end().catch(() => undefined);
    await source.end().catch(() => undefined);
    store.destroy();
  };
  const parts: Service[] = [{ stop: closeClients }];
  const stopAll = async (): Promise<void> => {
    let first: Error | undefined;
    for (const part of parts.reverse()) {
      try {
        await part.stop();
      } catch (e) {
        first ??= e instanceof Error ? e : new Error(String(e));
      }
    }
    parts.length = 0;
    if (first !== undefined) throw first;
  };
  try {
    await requireArchiveCatalog(catalog, settings.catalog.url);
    await requireJobsCatalog(catalog, settings.catalog.url);
    const opened = await openEngines(settings);
    parts.push({ stop: () => opened.close() });
    const scheduler = startScheduler({
      catalog,
      log,
      clock,
      intervalMs: settings.jobs.schedulerIntervalMs,
    });
    parts.push(scheduler);
    const workers = startWorkers({
      catalog,
      source,
      engines: opened.engines,
      tenantColumn: settings.source.tenantColumn,
      log,
      clock,
      jobs: settings.jobs,
      owner: settings.owner,
    });
    parts.push(workers);
    // The HTTP server starts last and stops first: no request arrives once workers stop.
    const api = await startControlApi({
      catalog,
      source,
      store,
      kafka: createKafka({
        brokers: settings.kafka.brokers,
        clientId: `${settings.kafka.clientId}-api`,
        log,
      }),
      engines: opened.engines,
      api: settings.api,
      topicPrefix: settings.kafka.topicPrefix,
      slot: settings.source.slot,
      log,
      clock,
    });
    parts.push(api);
    let stopping: Promise<void> | undefined;
    return {
      api,
      workers,
      scheduler,
      engines: opened.engines,
      stop: () => {
        stopping ??= withTimeout(stopAll(), STOP_TIMEOUT_MS, 'stopping the control API');
        return stopping;
      },
    };
  } catch (e) {
    await stopAll().catch(() => undefined);
    throw e;
  }
}

/** The settings of `backtrack api` from the configuration. */
function stackSettings(context: CommandContext, command: string): ApiStackSettings {
  const { config, log } = context;
  return {
    source: requireSection(config, 'source', command),
    catalog: requireSection(config, 'catalog', command),
    kafka: requireSection(config, 'kafka', command),
    s3: requireSection(config, 's3', command),
    snapshot: config.snapshot,
    restore: config.restore,
    archiver: config.archiver,
    encryption: config.encryption,
    api: config.api,
    jobs: config.jobs,
    log,
    failpoint: failpointHook(config.failpoints, log),
  };
}

/** Resolves when the command is asked to stop. */
function stopRequested(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

export const apiCommand: Command = {
  name: 'api',
  summary: 'serve the control API (HTTP), run its job workers and the scheduler',
  usage: 'backtrack api',
  options: {},
  run: async (context) => {
    const stack = await startApiStack(stackSettings(context, 'api'));
    context.note(`control API listening on ${stack.api.url} (OpenAPI at ${stack.api.url}/docs)`);
    await stopRequested(context.signal);
    await stack.stop();
  },
};

/** Starts capture and the archiver of `backtrack run`. */
async function startPipeline(config: Config, context: CommandContext) {
  const { log } = context;
  const capture = await startCapture({
    source: requireSection(config, 'source', 'run'),
    kafka: requireSection(config, 'kafka', 'run'),
    capture: config.capture,
    s3: config.s3,
    encryption: config.encryption,
    catalog: config.catalog,
    failpoint: failpointHook(config.failpoints, log),
    log,
  });
  try {
    const archiver = await startArchiver({
      kafka: requireSection(config, 'kafka', 'run'),
      s3: requireSection(config, 's3', 'run'),
      catalog: requireSection(config, 'catalog', 'run'),
      archiver: config.archiver,
      encryption: config.encryption,
      log,
      failpoint: failpointHook(config.failpoints, log),
    });
    return { capture, archiver };
  } catch (e) {
    await capture.stop().catch(() => undefined);
    throw e;
  }
}

export const runCommand: Command = {
  name: 'run',
  summary: 'run every service in one process: capture, archiver, control API, workers, scheduler',
  usage: 'backtrack run',
  options: {},
  run: async (context) => {
    const { capture, archiver } = await startPipeline(context.config, context);
    let stack: ApiStack | undefined;
    try {
      stack = await startApiStack(stackSettings(context, 'run'));
      context.note(
        `capture, archiver and control API running; API on ${stack.api.url} (OpenAPI at ${stack.api.url}/docs)`,
      );
      // A signal stops everything (exit 0); capture or the archiver failing on its own
      // stops the rest and ends the command with that error.
      await Promise.race([stopRequested(context.signal), capture.done, archiver.done]);
    } finally {
      await stack?.stop();
      await archiver.stop();
      await capture.stop();
    }
    await archiver.done;
    await capture.done;
  },
};
