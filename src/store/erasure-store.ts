/** Erasure's part of the Store (issue 29; src/store/sql/erasure.ts; src/store/store.ts assembles the concerns). */
import type { ErasureRequestView, SignedReceipt } from '../domain/erasure.ts';
import type { Subject } from '../domain/types.ts';
import type { ErasurePublicKey } from '../privacy/receipt.ts';

export interface NewErasureRequest {
  subject: Subject;
  /** Who asked (the privacy tool's name): kept with the request and in the audit log. */
  requestedBy: string;
  /** The request's reference in the privacy tool (a ticket number). */
  reference: string;
}

/**
 * How long a playbook's records must keep their personal data (`retention.personalData:
 * record` → the record period; otherwise 0): an erasure request waits for it.
 */
export type KeepPersonalData = (playbook: string) => number;

/** What the retention job's erasure of one termination did. */
export type RetentionOutcome =
  | { erased: SignedReceipt }
  /** A legal hold kept it; `noted`: holds seen for the first time (each audited once). */
  | { held: Array<{ holdId: string; reason: string }>; noted: number }
  /** Not erasable now for another reason (it became unfinished, or was erased meanwhile). */
  | { skipped: string };

export interface ErasureStore {
  /**
   * Erases one finished termination's personal data in one transaction (data key destroyed,
   * subject keys replaced by its pseudonym, webhook deliveries deleted, the person's
   * directory users deleted, released holds' data keys destroyed, `privacy.erased` audited)
   * and keeps the signed receipt. Null when there is no such termination; throws
   * `ErasureRefusedError` (held, unfinished, erased already) with nothing written.
   */
  eraseTermination(id: string, actor: string, reason: string): Promise<SignedReceipt | null>;
  /** Every termination on record for the subject, all or nothing; `NoSuchSubjectError` when none. */
  eraseSubject(subject: Subject, actor: string, reason: string): Promise<SignedReceipt>;
  /** A receipt kept by the store, by erasure id. */
  getErasure(id: string): Promise<SignedReceipt | null>;
  /** The public key receipts are signed with. */
  erasureKey(): ErasurePublicKey;
  /**
   * Terminations whose personal-data retention ran out (`finished_at + period[playbook] <=
   * now`), not erased, with nothing left to run, and not kept by a hold already noted: the
   * retention job's work, oldest first.
   */
  dueForRetention(periods: ReadonlyMap<string, number>, now: Date, limit: number): Promise<string[]>;
  /** The retention job's erasure of one termination (actor `engine:retention`). */
  eraseForRetention(id: string, actor: string): Promise<RetentionOutcome>;
  /** Terminations due for retention that a hold in force keeps (gauge). */
  retentionHeldCount(): Promise<number>;
  /** Stores a request and answers when it will be carried out, or why it cannot be. */
  requestErasure(request: NewErasureRequest, actor: string, keep: KeepPersonalData): Promise<ErasureRequestView>;
  getErasureRequest(id: string): Promise<ErasureRequestView | null>;
  /** Carries out the requests that are due (or waited for a termination to finish), each in its transaction. */
  runDueErasureRequests(now: Date, actor: string, keep: KeepPersonalData, limit: number): Promise<ErasureRequestView[]>;
}
