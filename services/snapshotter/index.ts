/**
 * Snapshotter: exact per-tenant base snapshots (repeatable read, pg_current_snapshot and the
 * log position recorded, rows streamed to object storage, definitions kept), kinds full,
 * schema and pre_restore.
 */
export {
  createSnapshotter,
  outcomeError,
  type SnapshotKind,
  type Snapshotter,
  type SnapshotterDeps,
  type TenantSnapshotOutcome,
} from './snapshotter.js';
export { type SnapshotHooks, type SnapshotRequest, type SnapshotResult } from './take-snapshot.js';
export { type LogPosition } from './log-position.js';
export { copyStatement } from './table-copy.js';
