/**
 * Why a termination request or a cancellation was refused. The store decides them inside
 * its transaction; each channel answers them as a 409 whose text says what is open and
 * what to do instead. Messages name ids and channels only, never a credential.
 */
import type { Termination, TerminationSource } from './types.ts';

/** A different playbook was asked for while the subject has an open termination. */
export class OpenTerminationConflictError extends Error {
  constructor(
    readonly open: Termination,
    readonly requestedPlaybook: string,
  ) {
    super(
      `subject already has open termination ${open.id} (playbook ${open.playbook}, ${open.state}, effective ${open.effectiveAt.toISOString()}); ` +
        `it was not changed. Send playbook "${open.playbook}" (or none) to join it or bring it forward, ` +
        `or, as an operator, send supersede: true to POST /admin/v1/terminations to cancel its unrun tasks and start playbook "${requestedPlaybook}"`,
    );
    this.name = 'OpenTerminationConflictError';
  }
}

/** The same source event id (webhook-id, Idempotency-Key) came back with another body. */
export class ReusedRequestIdError extends Error {
  constructor(
    readonly source: TerminationSource,
    readonly sourceEventId: string,
    readonly terminationId: string,
  ) {
    super(
      `${source === 'admin' ? 'Idempotency-Key' : 'source event id'} already used for a different body (termination ${terminationId}); ` +
        'nothing was written. Send a new key for a new request, or the same body to get the earlier answer',
    );
    this.name = 'ReusedRequestIdError';
  }
}

/** A channel asked to cancel a termination that a channel it may not cancel for asked for too. */
export class CancellationRefusedError extends Error {
  constructor(
    readonly termination: Termination,
    readonly channel: TerminationSource,
    /** Every channel that asked for the termination (created, joined or brought it forward). */
    readonly requestedBy: readonly TerminationSource[],
    readonly mayCancel: readonly TerminationSource[],
  ) {
    const foreign = requestedBy.filter((c) => !mayCancel.includes(c));
    super(
      `termination ${termination.id} was requested through ${foreign.join(', ')}${foreign.includes('admin') ? ' (an operator)' : ''}; ` +
        `the ${channel} channel may cancel only terminations requested through ${mayCancel.join(', ')}. ` +
        `It was not cancelled; an operator can cancel it through the admin API (POST /admin/v1/terminations/${termination.id}/cancel)` +
        ` or allow it with intake.${channel}.mayCancel in the configuration`,
    );
    this.name = 'CancellationRefusedError';
  }
}
