/** The legal holds' part of the Store (src/store/store.ts assembles the concerns). */
import type { HoldTarget, LegalHold } from '../domain/legal-hold.ts';

/** A destructive task a legal hold covers (pending: held; running or succeeded: past stopping). */
export interface HeldTask {
  taskId: string;
  terminationId: string;
  provider: string;
  action: string;
  stepId: string;
}

export interface PlacedHold {
  hold: LegalHold;
  /** The terminations the hold covers now (a subject hold also covers later ones). */
  terminations: string[];
  /** Destructive tasks already claimed when the hold committed: at the provider, beyond its reach. */
  alreadyRunning: HeldTask[];
  /** Destructive tasks that had already succeeded: what the hold cannot bring back. */
  alreadyDone: HeldTask[];
}

/** Legal holds (src/domain/legal-hold.ts): each placement and release audited in its transaction. */
export interface LegalHoldStore {
  /** Null when the termination named does not exist. */
  placeHold(target: HoldTarget, actor: string, reason: string): Promise<PlacedHold | null>;
  /** The released hold; `'released'` when it was released already; null when there is no such hold. */
  releaseHold(id: string, actor: string, reason: string): Promise<LegalHold | 'released' | null>;
  /** Newest first. */
  listHolds(filter?: { active?: boolean }): Promise<LegalHold[]>;
  /** Every hold, active or released, on the termination or its subject, oldest first. */
  holdsCovering(terminationId: string): Promise<LegalHold[]>;
}
