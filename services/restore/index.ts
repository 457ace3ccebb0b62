/** Restore: rebuild one tenant as it was at any instant, into a schema or in place, and roll back. */
export { createRestorer, type Restorer, type RestorerDeps } from './restorer.js';
export {
  type RestoreMode,
  type RestoreProgress,
  type RestoreRequest,
  type RestoreSummary,
  RESTORE_FAILPOINTS,
  type RollbackRequest,
} from './restore.js';
export { formatInstant, parseTarget, type RestoreTarget } from './target.js';
