/**
 * The control API: fastify + zod routes over HTTP, the job workers that run long operations,
 * and the scheduler that queues jobs from cron schedules under one leader.
 */
export { type ControlApi, startControlApi } from './control-api.js';
export { type Access, type ApiDeps } from './context.js';
export { type DrTestDeps, type DrTestResult, runDrTest } from './dr-test.js';
export type {
  EngineProgress,
  EngineRestoreRequest,
  EngineRestoreSummary,
  EngineRollbackRequest,
  Engines,
  EngineSnapshot,
  EngineVerifyReport,
} from './engines.js';
export {
  createTokenVerifier,
  type Principal,
  type Role,
  ROLES,
  type TokenVerifier,
} from './principal.js';
export { type Scheduler, type SchedulerDeps, startScheduler } from './scheduler.js';
export { startWorkers, type WorkerDeps, type Workers } from './worker.js';
