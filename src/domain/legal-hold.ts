/**
 * Legal holds (issue 29): litigation or an audit requires a subject's records, and their
 * accounts at the providers, to be kept. A hold on a subject (every termination of theirs,
 * past and future) or on one termination stops every destructive step (`delete_account`)
 * and, once erasure exists, erasure. Access revocation is never held: a hold keeps data,
 * it never keeps a door open.
 */
import { DESTRUCTIVE_ACTIONS, type Subject, type Task } from './types.ts';

export interface LegalHold {
  id: string;
  /** The subject as the operator named it; null for a termination hold. */
  subject: Subject | null;
  /**
   * Every subject key (src/domain/subject.ts) the hold covers: each identifier given, and the
   * keys of the terminations on record for any of them (a person filed under their HRIS id
   * is held when the operator names their email). Empty for a termination hold.
   */
  subjectKeys: string[];
  /** The one termination the hold covers; null for a subject hold. */
  terminationId: string | null;
  reason: string;
  placedBy: string;
  placedAt: Date;
  releasedBy: string | null;
  releasedAt: Date | null;
  releaseReason: string | null;
}

/** What a hold is placed on: a subject (any of their identifiers) or one termination. */
export type HoldTarget = { subject: Subject } | { terminationId: string };

/** Reasons are kept in the audit log and shown beside held steps: bounded like other operator text. */
export const MAX_HOLD_REASON = 1000;

export const isActive = (hold: LegalHold): boolean => hold.releasedAt === null;

/**
 * The holds in force that keep this task from running: only a pending destructive step is
 * held (the store's rule, src/store/sql/legal-holds.ts); a running or finished one is past
 * stopping, and access revocation is never held. `holds` are those covering its termination.
 */
export function holdsKeeping(task: Task, holds: readonly LegalHold[]): LegalHold[] {
  if (task.state !== 'pending' || !DESTRUCTIVE_ACTIONS.includes(task.action)) return [];
  return holds.filter(isActive);
}
