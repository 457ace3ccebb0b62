/**
 * Archiver: the transaction log to object storage as per-tenant Avro segments over
 * contiguous partition ranges recorded in the catalog; compaction and verification of
 * what is stored.
 */
export {
  type ArchiverDeps,
  type ArchiverPhase,
  type ArchiverService,
  startArchiver,
} from './archiver.js';
export {
  type CompactionDeps,
  type CompactionReport,
  type MergeOutcome,
  runCompaction,
} from './compaction.js';
export { FLUSH_FAILPOINTS } from './flush.js';
export {
  runVerify,
  type VerifiedObject,
  type VerifyDeps,
  type VerifyReport,
  type VerifyStatus,
} from './verify.js';
