/**
 * Which backups the retention window still needs (DESIGN §2.8): every instant of the last
 * R days must stay restorable, so the newest data snapshot taken at or before the window's
 * start (the anchor) and every data snapshot inside the window are kept; a pre-restore
 * snapshot is kept until it expires (a rollback needs it). Pure.
 */

/** What retention looks at of a snapshot. */
export interface RetainedSnapshot {
  readonly id: string;
  readonly kind: 'full' | 'schema' | 'pre_restore';
  readonly status: 'running' | 'completed' | 'failed';
  readonly takenAt: Date | null;
  readonly expiresAt: Date | null;
}

/** Why a snapshot may not be deleted, or undefined when it may. */
export function retentionHold(
  snapshot: RetainedSnapshot,
  all: readonly RetainedSnapshot[],
  retentionDays: number,
  now: Date,
): string | undefined {
  if (snapshot.status === 'running') return 'it is still being taken';
  if (snapshot.status === 'failed' || snapshot.kind === 'schema') return undefined;
  if (snapshot.kind === 'pre_restore' && snapshot.expiresAt !== null && snapshot.expiresAt > now)
    return `it is the pre-restore snapshot a rollback needs until ${snapshot.expiresAt.toISOString()}`;
  const horizon = now.getTime() - retentionDays * 86_400_000;
  const data = all
    .filter((s) => s.status === 'completed' && s.kind !== 'schema' && s.takenAt !== null)
    .sort((a, b) => (a.takenAt?.getTime() ?? 0) - (b.takenAt?.getTime() ?? 0));
  const anchor = data.filter((s) => (s.takenAt?.getTime() ?? 0) <= horizon).at(-1);
  if (snapshot.id === anchor?.id)
    return `it is the newest snapshot at or before the start of the ${retentionDays}-day retention window: instants after it need it`;
  if ((snapshot.takenAt?.getTime() ?? 0) > horizon)
    return `it was taken inside the ${retentionDays}-day retention window`;
  return undefined;
}
