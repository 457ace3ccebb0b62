/** Every route of the control API. */
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

import type { Registry } from '../../../shared/metrics.js';
import type { ApiDeps } from '../context.js';

import { auditRoutes } from './audit.js';
import { backupRoutes } from './backups.js';
import { drPlanRoutes } from './dr-plans.js';
import { drTestRoutes } from './dr-tests.js';
import { healthRoutes } from './health.js';
import { jobRoutes } from './jobs.js';
import { restorePointRoutes } from './restore-points.js';
import { restoreRoutes } from './restores.js';
import { rollbackRoutes } from './rollbacks.js';
import { scheduleRoutes } from './schedules.js';
import { systemRoutes } from './system.js';

/** The fastify instance with zod schemas. */
export type TypedApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** Registers every route. */
export function registerRoutes(app: TypedApp, deps: ApiDeps, registry: Registry): void {
  systemRoutes(app, deps, registry);
  jobRoutes(app, deps);
  backupRoutes(app, deps);
  restorePointRoutes(app, deps);
  restoreRoutes(app, deps);
  rollbackRoutes(app, deps);
  scheduleRoutes(app, deps);
  drPlanRoutes(app, deps);
  drTestRoutes(app, deps);
  healthRoutes(app, deps);
  auditRoutes(app, deps);
}
