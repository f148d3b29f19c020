/**
 * reset_password on Microsoft Graph: the user's password becomes a random one nobody
 * knows (generated here, sent once, never kept), with a forced change at next sign-in, and
 * the read-back wants `lastPasswordChangeDateTime` from this attempt.
 */
import { randomPassword as randomPasswordOf } from '../random-password.ts';
import type { AccountRef, ActionContext, ActionHandler, Evidence, ExecuteResult } from '../contract.ts';
import { VerificationError } from '../contract.ts';
import { seg, type GraphApi } from './graph-client.ts';

/** Our clock against Microsoft's: a change stamped this much before the attempt still counts. */
export const PASSWORD_CLOCK_SKEW_MS = 60_000;
const LENGTH = 32;
const CLASSES = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz', '23456789', '!#$%&*+-=?@^_~'];

/**
 * 32 characters from node:crypto, at least one of each class: Entra's default policy wants
 * three of the four, and a refused password would be a PermanentError for nothing.
 */
export function randomPassword(): string {
  return randomPasswordOf(LENGTH, CLASSES);
}

export function resetPassword(graph: GraphApi): ActionHandler {
  return {
    // Not read-first: a second reset is harmless (one more unknown password), and
    // lastPasswordChangeDateTime cannot tell this task's change from the user's own.
    execute: async (account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> => {
      await graph.call({
        method: 'PATCH',
        path: `/users/${seg(account.id)}`,
        body: { passwordProfile: { password: randomPassword(), forceChangePasswordNextSignIn: true } },
        signal: ctx.signal,
      });
      return {
        evidence: {
          passwordReset: 'random, not kept',
          forceChangePasswordNextSignIn: true,
          sentAt: ctx.now().toISOString(),
          alreadyDone: false,
        },
      };
    },
    verify: async (account: AccountRef, ctx: ActionContext): Promise<Evidence> => {
      const user = await graph.call<{ lastPasswordChangeDateTime?: string | null }>({
        method: 'GET',
        path: `/users/${seg(account.id)}`,
        query: { $select: 'lastPasswordChangeDateTime' },
        signal: ctx.signal,
      });
      const changed = user?.lastPasswordChangeDateTime ?? null;
      const changedMs = changed ? Date.parse(changed) : Number.NaN;
      const since = new Date(ctx.attemptStartedAt.getTime() - PASSWORD_CLOCK_SKEW_MS).toISOString();
      const observed = { lastPasswordChangeDateTime: changed, notBefore: since };
      if (Number.isNaN(changedMs) || changedMs < Date.parse(since)) {
        throw new VerificationError('lastPasswordChangeDateTime is before this attempt: password not reset', observed);
      }
      return observed;
    },
  };
}
