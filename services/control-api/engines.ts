/**
 * The engines the control API drives, as narrow ports: the composition root (services/cli)
 * passes the restore engine, the snapshotter, verify and compaction in, so this service
 * never imports another one. The shapes are the parts of each engine's result the API reads.
 */

/** How far a restore got (the restore engine's progress). */
export interface EngineProgress {
  readonly phase: string;
  readonly tablesDone: number;
  readonly tablesTotal: number;
  readonly rowsDone: number;
  readonly rowsTotal: number;
  readonly etaSeconds: number | undefined;
}

/** A restore to run: into a schema, or in place with an explicit confirmation. */
export interface EngineRestoreRequest {
  readonly tenant: string;
  /** ISO-8601 instant with a zone. */
  readonly target: string;
  readonly tables?: readonly string[];
  readonly mode:
    | { readonly kind: 'schema'; readonly schema: string }
    | { readonly kind: 'in-place'; readonly confirm: boolean };
  readonly dryRun: boolean;
  readonly actor: string;
  readonly onProgress?: (progress: EngineProgress) => void;
}

/** A rollback to the rows of a pre-restore snapshot. */
export interface EngineRollbackRequest {
  readonly snapshotId: string;
  readonly confirm: boolean;
  readonly dryRun: boolean;
  readonly reason: string | undefined;
  readonly actor: string;
  readonly onProgress?: (progress: EngineProgress) => void;
}

/** What a restore (or its dry run) did, as the engine reports it. */
export interface EngineRestoreSummary {
  readonly id: string;
  readonly tenant: string;
  readonly target: string;
  readonly mode: 'schema' | 'in-place';
  readonly targetSchema: string | undefined;
  readonly dryRun: boolean;
  readonly snapshot: {
    readonly id: string;
    readonly takenAt: string | null;
    readonly kind: 'snapshot' | 'census';
  };
  readonly replayed: {
    readonly events: number;
    readonly from: string | null;
    readonly to: string | null;
  };
  readonly tables: readonly {
    readonly table: string;
    readonly rowsAtTarget: number;
    readonly rowsNow: number;
    readonly inserts: number;
    readonly updates: number;
    readonly deletes: number;
  }[];
  readonly restored: readonly {
    readonly table: string;
    readonly columns: readonly string[];
    readonly loaded: { readonly rows: number; readonly digest: string };
  }[];
  readonly preRestoreSnapshotId: string | undefined;
  readonly warnings: readonly string[];
  readonly durationMs: number;
}

/** One object as verify judged it. */
export interface EngineVerifiedObject {
  readonly kind: string;
  readonly key: string;
  readonly status: string;
  readonly problems: readonly string[];
}

/** Verify's report for a tenant. */
export interface EngineVerifyReport {
  readonly objects: readonly EngineVerifiedObject[];
  readonly gaps: readonly { topic: string; partition: number; from: string; to: string }[];
  readonly ok: boolean;
}

/** A snapshot the snapshotter took. */
export interface EngineSnapshot {
  readonly id: string;
  readonly takenAt: string;
  readonly rows: bigint;
  readonly sizeBytes: number;
}

/** Everything the jobs of the API run. */
export interface Engines {
  restore(request: EngineRestoreRequest): Promise<EngineRestoreSummary>;
  rollback(request: EngineRollbackRequest): Promise<EngineRestoreSummary>;
  snapshot(request: {
    readonly tenant: string;
    readonly kind: 'full' | 'schema';
    readonly createdBy: string;
    readonly label?: string;
  }): Promise<EngineSnapshot>;
  /** Re-reads and checks every stored object of the tenant. */
  verify(tenant: string): Promise<EngineVerifyReport>;
  /** Merges the tenant's small segments; returns the engine's report (JSON). */
  compact(tenant: string): Promise<unknown>;
}
