/**
 * How every JSON channel (webhook, admin API) answers a termination request, so one rule
 * reads the same on each door: the status and body for each outcome, and the 409s for the
 * refusals, each saying what is open and what to do instead.
 */
import { CancellationRefusedError, OpenTerminationConflictError, ReusedRequestIdError } from '../domain/termination-conflicts.ts';
import type { Termination } from '../domain/types.ts';
import { ConflictError, storeFailure } from '../server/http-errors.ts';
import type { CreateOutcome, CreateTerminationResult } from '../store/store.ts';

/** What a webhook delivery or admin request did: a creation outcome, or a cancellation. */
export type RequestOutcome = CreateOutcome | 'cancelled';

export interface TerminationAnswer {
  terminationId: string;
  state: Termination['state'];
  /** True only for a true repeat of an earlier request (same id, same body): nothing changed. */
  duplicate: boolean;
  /** What the request did; for a repeat, what the first one did. */
  outcome: RequestOutcome;
  /** `rescheduled` and `joined`: the termination's effective time now. */
  effectiveAt?: string;
  /** `rescheduled`: the effective time it had before. */
  previousEffectiveAt?: string;
  /** `superseded`: the termination this one replaced. */
  supersededTerminationId?: string;
}

/** 201 when the request wrote a new termination, 200 otherwise (joined, rescheduled, cancelled, repeat). */
export function answerOf(result: CreateTerminationResult): { status: number; body: TerminationAnswer } {
  const { termination, outcome } = result;
  const body: TerminationAnswer = { terminationId: termination.id, state: termination.state, duplicate: result.duplicate, outcome };
  if (!result.duplicate && (outcome === 'rescheduled' || outcome === 'joined')) body.effectiveAt = termination.effectiveAt.toISOString();
  if (result.previousEffectiveAt) body.previousEffectiveAt = result.previousEffectiveAt.toISOString();
  if (result.supersededId) body.supersededTerminationId = result.supersededId;
  return { status: result.created ? 201 : 200, body };
}

/**
 * Runs a store-backed intake call: the refusals of the rule become 409s naming the
 * termination concerned; any other failure is answered as `storeFailure` says (503 for an outage).
 */
export async function intakeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof OpenTerminationConflictError) {
      const { open } = error;
      throw new ConflictError(error.message, {
        openTerminationId: open.id,
        playbook: open.playbook,
        state: open.state,
        effectiveAt: open.effectiveAt.toISOString(),
        requestedPlaybook: error.requestedPlaybook,
      });
    }
    if (error instanceof ReusedRequestIdError) throw new ConflictError(error.message, { terminationId: error.terminationId });
    if (error instanceof CancellationRefusedError) {
      throw new ConflictError(error.message, {
        terminationId: error.termination.id,
        requestedBy: error.requestedBy,
        mayCancel: error.mayCancel,
      });
    }
    throw storeFailure(error);
  }
}
