/** The re-verification queue's part of the Store (src/store/store.ts assembles the concerns). */
import type { DriftSweepRow, Reverification, ReverifyOutcome } from '../domain/reverify.ts';
import type { JsonObject, Task } from '../domain/types.ts';
import type { NewTask } from './store.ts';

/** A claim of due re-verifications of one provider (see ReverificationQueue). */
export interface ReverifyClaimRequest {
  worker: string;
  provider: string;
  now: Date;
  leaseMs: number;
  limit: number;
}

/** A claimed re-verification and the task whose read-back it repeats (with the account it used). */
export interface DueReverification {
  reverification: Reverification;
  task: Task;
  /**
   * When the attempt that proved the task (its last succeeded attempt) started, or null. A
   * read-back that compares a provider's timestamp with its attempt's start (sessions valid
   * from, password changed) compares with this one: against the re-verification's own start
   * an hour later, a revocation that held would read as drift.
   */
  provenAt: Date | null;
}

/** What one re-verification found, as the engine reports it. */
export interface ReverifyResult {
  outcome: ReverifyOutcome;
  evidence: JsonObject;
  /** `error` only: look again at this time (null: give up, recorded as `error`). */
  retryAt?: Date | null;
  /** `drift` only: put the task back in the queue so the action runs again (audited `task.remediation`). */
  remediate?: boolean;
  /** `drift` only: tasks to add to the termination (telling the security team what changed). */
  followUp?: NewTask[];
}

/**
 * Re-verifications (src/domain/reverify.ts): scheduled in the transaction that completes a
 * termination, claimed with a lease like tasks (a crash neither loses one nor runs one twice).
 */
export interface ReverificationQueue {
  /** The offsets after completion at which each verified task of a playbook is read back again. Default DEFAULT_REVERIFY_OFFSETS_MS. */
  setReverifySchedule(offsetsFor: (playbook: string) => readonly number[]): void;
  /**
   * Leases up to `limit` due re-verifications of one provider: pending ones, and running
   * ones whose lease expired. None while a live task of that provider is due: they never
   * go before a termination's work.
   */
  claimDueReverifications(request: ReverifyClaimRequest): Promise<DueReverification[]>;
  /** Records the result while the claim holds; false (nothing written) when it no longer does. */
  finishReverification(worker: string, claim: Pick<Reverification, 'id' | 'leaseToken'>, result: ReverifyResult): Promise<boolean>;
  /**
   * The earliest moment a re-verification (of these providers, if given) can be claimed: a
   * pending one's due time or a running one's lease expiry (a crashed worker's claim).
   */
  nextReverificationAt(providers?: string[]): Promise<Date | null>;
  /** An operator asks for every verified task of a finished termination to be read back now. Null when no such termination. */
  requestReverification(terminationId: string, actor: string): Promise<Reverification[] | null>;
  listReverifications(terminationId: string): Promise<Reverification[]>;
  /**
   * Every verified task of every termination finished since `since` is read back now,
   * audited per termination; refused (nothing written) when more than `max` terminations match.
   */
  requestReverificationsSince(since: Date, actor: string, max: number): Promise<BulkReverifyResult>;
  /** Subjects terminated since `since` with access back (drift) or a read-back still due: the sweep report. */
  driftSweep(since: Date): Promise<DriftSweepRow[]>;
}

export type BulkReverifyResult = { refused: true; max: number } | { refused: false; terminations: number; queued: Reverification[] };
