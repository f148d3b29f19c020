/**
 * Erasure (issue 29): a finished termination's personal data is made unrecoverable (its data
 * key destroyed, its subject keys replaced by a pseudonym) while the record of what was done
 * stays, with a signed receipt that says what was erased. Refused while a legal hold covers
 * the termination or while anything of it may still run.
 */

/** Operator text kept in the audit log and the receipt: bounded like a hold's reason. */
export const MAX_ERASURE_REASON = 1000;

/** Why an erasure cannot be carried out now; every blocking thing named, so the operator knows what to do. */
export interface ErasureBlockers {
  /** Legal holds in force covering a termination. */
  held: Array<{ holdId: string; terminationId: string; reason: string }>;
  /** Terminations not finished, and their tasks or re-verifications that may still run. */
  unfinished: Array<{ terminationId: string; state: string; tasks: string[]; reverifications: string[] }>;
  /** Terminations erased already. */
  erased: Array<{ terminationId: string; erasureId: string | null }>;
}

export class ErasureRefusedError extends Error {
  constructor(readonly blockers: ErasureBlockers) {
    const parts = [
      blockers.held.length > 0 ? `legal hold ${[...new Set(blockers.held.map((h) => h.holdId))].join(', ')} in force` : '',
      blockers.unfinished.length > 0 ? `termination ${blockers.unfinished.map((u) => u.terminationId).join(', ')} not finished` : '',
      blockers.erased.length > 0 ? `termination ${blockers.erased.map((e) => e.terminationId).join(', ')} erased already` : '',
    ].filter(Boolean);
    super(`erasure refused: ${parts.join('; ')}`);
    this.name = 'ErasureRefusedError';
  }

  static has(blockers: ErasureBlockers): boolean {
    return blockers.held.length + blockers.unfinished.length + blockers.erased.length > 0;
  }
}

/** An erasure by subject found no termination on record for any of the identifiers given. */
export class NoSuchSubjectError extends Error {
  constructor() {
    super('no termination on record for this subject');
    this.name = 'NoSuchSubjectError';
  }
}

/** What one termination's erasure removed, counted per table. */
export interface ErasedTermination {
  terminationId: string;
  /** What the termination's subject reads as from now on. */
  pseudonym: string;
  playbook: string;
  finishedAt: string | null;
  /** The termination's audit entries (by seq) the erasure left readable only as ciphertext and pseudonyms; null when it had none. */
  auditRange: { firstSeq: number; lastSeq: number; entries: number } | null;
  /** Rows or keys removed or rewritten, by where they were. */
  erased: Record<string, number>;
}

/** The receipt's signed content: no personal data, so it can be handed to the person or a client. */
export interface ErasureReceipt {
  type: 'deprovisiond.erasure-receipt/v1';
  erasureId: string;
  erasedAt: string;
  erasedBy: string;
  reason: string;
  /** `termination` (one named by id), `subject` (every termination of a person), `retention` or `request`. */
  scope: 'termination' | 'subject' | 'retention' | 'request';
  /** The erasure request carried out, when one was. */
  requestReference: string | null;
  terminations: ErasedTermination[];
  /** Sums of `erased` over the terminations, plus what was erased once for the person (directory users). */
  totals: Record<string, number>;
}

/** A receipt with its Ed25519 signature over `JSON.stringify(receipt)` (src/privacy/receipt.ts). */
export interface SignedReceipt {
  receipt: ErasureReceipt;
  signature: { algorithm: 'Ed25519'; keyId: string; value: string };
}

/** Where an erasure request stands (POST /admin/v1/erasure-requests). */
export type ErasureRequestState = 'scheduled' | 'waiting' | 'refused' | 'done';

export interface ErasureRequestView {
  id: string;
  state: ErasureRequestState;
  requestedBy: string;
  reference: string;
  receivedAt: string;
  /** When it will be carried out (`scheduled`): now, or when the records' retention ends. */
  dueAt: string | null;
  /** Why it waits or was refused, in words. */
  because: string | null;
  /** The holds that refused it. */
  holds: Array<{ holdId: string; reason: string }>;
  terminations: string[];
  /** The erasure that carried it out (`done`): its receipt is at /admin/v1/erasures/{id}. */
  erasureId: string | null;
}
