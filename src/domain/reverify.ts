/**
 * Re-verification: after a termination completes, each verified task's read-back runs
 * again at set offsets, so a revocation that did not last (an account enabled again by a
 * directory sync, a group re-added) is found. Pure data; no I/O.
 */
import type { ActionName, JsonObject } from './types.ts';

/** Offsets after completion at which a verified task is read back again: 1 h, 24 h, 7 d, 30 d. */
export const DEFAULT_REVERIFY_OFFSETS_MS: readonly number[] = [3_600_000, 86_400_000, 7 * 86_400_000, 30 * 86_400_000];

/**
 * Actions whose read-back is not re-run: a person's word (manual) and pushes with no read
 * API (notify) have nothing to read back, so re-running them could only send them again.
 * An organization's member listing (expand_members) proves nothing to re-read: its members'
 * own tasks are re-verified.
 */
export const NOT_REVERIFIED: ReadonlySet<ActionName> = new Set<ActionName>(['manual', 'notify', 'expand_members']);

/** Terminations one on-demand re-verification of a window may queue (`reverify.maxOnDemand`). */
export const DEFAULT_MAX_ON_DEMAND = 500;

/** Claims of one re-verification that ended without a result (or with an error) before it is given up as `error`. */
export const MAX_REVERIFY_CLAIMS = 3;

/** Why a re-verification exists: the schedule, an operator's request, or the check after a remediation. */
export type ReverifyReason = 'scheduled' | 'on_demand';

/**
 * `held`: the read-back still shows access gone. `drift`: it shows access back.
 * `error`: the read-back could not be made (kept trying, then given up; not drift).
 * `no_account`: the task never had an account to read back.
 */
export type ReverifyOutcome = 'held' | 'drift' | 'error' | 'no_account';

export interface Reverification {
  id: string;
  terminationId: string;
  taskId: string;
  provider: string;
  action: ActionName;
  reason: ReverifyReason;
  /** 0-based index into the schedule's offsets; null for on-demand checks. */
  round: number | null;
  dueAt: Date;
  state: 'pending' | 'running' | 'done';
  /** Claims so far, the running one included: a claim that never finishes still counts. */
  claims: number;
  leaseToken: string | null;
  outcome: ReverifyOutcome | null;
  evidence: JsonObject | null;
  finishedAt: Date | null;
}

/**
 * One subject in the sweep report: terminated in the window, and some task's latest
 * read-back found access back (`drift`) or one is due and not yet made (`pending`).
 * The subject is one identifier, as the evidence shows it: no name or manager.
 */
export interface DriftSweepRow {
  terminationId: string;
  subject: string;
  terminationState: string;
  requestedAt: Date;
  status: 'drift' | 'pending';
  /** `provider/action` of each task whose latest read-back found drift. */
  drift: string[];
  /** `provider/action` of each task with a read-back due and not yet made. */
  pending: string[];
  /** When the latest finished read-back of these tasks was made. */
  lastCheckedAt: Date | null;
}
