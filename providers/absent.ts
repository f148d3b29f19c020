/**
 * Evidence for a delete that found its account already gone. A delete is not idempotent
 * in what it records: "deleted" and "was not there" are different facts. After a takeover
 * (a replica paused past its lease) or a retry whose first answer was lost, the account
 * resolved earlier by this task is absent because someone deleted it, most likely this
 * task's own earlier attempt; the evidence says that it was found absent, by which
 * attempt and how, and never that this attempt deleted it.
 */
import type { ActionContext, Evidence } from './contract.ts';

/** How the absence was seen: by the read before the delete, or by the delete's own 404. */
export type AbsenceSeenBy = 'read before delete' | 'delete answered 404';

export function alreadyAbsent(accountId: string, ctx: Pick<ActionContext, 'attempt'>, seenBy: AbsenceSeenBy): Evidence {
  return {
    userId: accountId,
    deleted: false,
    alreadyAbsent: true,
    alreadyDone: true,
    confirmedAbsentByAttempt: ctx.attempt,
    seenBy,
  };
}
