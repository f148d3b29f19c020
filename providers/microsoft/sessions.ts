/**
 * revoke_sessions on Microsoft Graph: revokeSignInSessions cuts the refresh tokens and
 * session cookies, and the user's delegated permission grants (the consents that let an app
 * ask for new tokens on the user's behalf) are deleted after it, in the same attempt.
 */
import type { AccountRef, ActionContext, ActionHandler, Evidence, ExecuteResult } from '../contract.ts';
import { DeprovisionError, VerificationError, withCheckpoint } from '../contract.ts';
import type { JsonObject } from '../../src/domain/types.ts';
import { odataString, seg, type GraphApi } from './graph-client.ts';

interface PermissionGrant {
  id: string;
  clientId?: string;
  principalId?: string | null;
  scope?: string | null;
}

/**
 * `GET /users/{id}/oauth2PermissionGrants` is not open to application tokens (Graph's
 * reference: "Application: Not supported"); the top-level list filtered by principal is.
 */
const GRANTS = '/oauth2PermissionGrants';
/** Checkpoint key: when the revoke this task already sent took effect from (ISO). */
const REVOKED_SINCE = 'sessionsRevokedSince';

function toSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** Ids, client and scope names only: a grant holds no token. */
function grantEvidence(grant: PermissionGrant): JsonObject {
  const scopes = typeof grant.scope === 'string' ? grant.scope.split(' ').filter(Boolean) : [];
  return { id: grant.id, clientId: grant.clientId ?? null, scopes };
}

async function grantsOf(graph: GraphApi, userId: string, signal: AbortSignal): Promise<PermissionGrant[]> {
  const all = await graph.collect<PermissionGrant>({
    method: 'GET',
    path: GRANTS,
    query: { $filter: `principalId eq ${odataString(userId)}` },
    signal,
  });
  // The filter is the server's; a grant of another principal (or an all-users one) is not this user's.
  return all.filter((g) => g.principalId === userId);
}

function checkpointed(ctx: ActionContext): { since: string | null; removed: JsonObject[] } {
  const since = ctx.checkpoint?.[REVOKED_SINCE];
  const removed = ctx.checkpoint?.removedGrants;
  return {
    since: typeof since === 'string' && !Number.isNaN(Date.parse(since)) ? since : null,
    removed: Array.isArray(removed) ? removed.filter((g): g is JsonObject => typeof g === 'object' && g !== null && !Array.isArray(g)) : [],
  };
}

/** A failure after the revoke carries its time, so the retry goes on from the grants. */
function carrying(error: unknown, checkpoint: JsonObject): unknown {
  return error instanceof DeprovisionError && !(error instanceof VerificationError) ? withCheckpoint(error, checkpoint) : error;
}

export function revokeSessions(graph: GraphApi): ActionHandler {
  return {
    execute: async (account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> => {
      const earlier = checkpointed(ctx);
      let since = earlier.since;
      let answer: boolean | null = null;
      // Sent on every attempt but one that only retries the grants: its revoke already held
      // (verify reads signInSessionsValidFromDateTime against that time) and the disable
      // stops new sign-ins meanwhile.
      if (!since) {
        since = ctx.attemptStartedAt.toISOString();
        const body = await graph.call<{ value?: unknown }>({
          method: 'POST',
          path: `/users/${seg(account.id)}/revokeSignInSessions`,
          signal: ctx.signal,
        });
        answer = typeof body?.value === 'boolean' ? body.value : null;
      }
      const removed = [...earlier.removed];
      const alreadyGone: JsonObject[] = [];
      try {
        for (const grant of await grantsOf(graph, account.id, ctx.signal)) {
          const sent = await graph.send({ method: 'DELETE', path: `${GRANTS}/${seg(grant.id)}`, signal: ctx.signal, notFoundIsNull: true });
          (sent.status === 404 ? alreadyGone : removed).push(grantEvidence(grant));
        }
      } catch (error) {
        throw carrying(error, { [REVOKED_SINCE]: since, removedGrants: removed });
      }
      return {
        evidence: {
          revokeSignInSessions: answer === null && earlier.since ? 'sent by an earlier attempt' : 'sent',
          sessionsRevokedSince: since,
          answer,
          removedGrants: removed,
          removedGrantCount: removed.length,
          alreadyGoneGrants: alreadyGone,
          alreadyDone: false,
        },
      };
    },
    // Graph keeps whole seconds, so both sides are truncated to the second.
    verify: async (account: AccountRef, ctx: ActionContext): Promise<Evidence> => {
      const since = checkpointed(ctx).since ?? ctx.attemptStartedAt.toISOString();
      try {
        const user = await graph.call<{ signInSessionsValidFromDateTime?: string | null }>({
          method: 'GET',
          path: `/users/${seg(account.id)}`,
          query: { $select: 'signInSessionsValidFromDateTime' },
          signal: ctx.signal,
        });
        const validFrom = user?.signInSessionsValidFromDateTime ?? null;
        const validFromMs = validFrom ? Date.parse(validFrom) : Number.NaN;
        const observed = { signInSessionsValidFromDateTime: validFrom, sessionsRevokedSince: since };
        if (Number.isNaN(validFromMs) || toSeconds(validFromMs) < toSeconds(Date.parse(since))) {
          // The revoke did not hold: the retry sends it again rather than trusting the checkpoint.
          throw withCheckpoint(
            new VerificationError('signInSessionsValidFromDateTime is before the revoke: sessions not revoked', observed),
            {
              [REVOKED_SINCE]: null,
            },
          );
        }
        const remaining = await grantsOf(graph, account.id, ctx.signal);
        if (remaining.length > 0) {
          throw new VerificationError('delegated permission grants remain', { ...observed, remainingGrants: remaining.map(grantEvidence) });
        }
        return { remainingGrants: 0, ...observed, comparedAt: 'whole seconds' };
      } catch (error) {
        throw carrying(error, { [REVOKED_SINCE]: since });
      }
    },
  };
}
