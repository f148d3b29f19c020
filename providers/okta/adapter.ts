/**
 * The Okta adapter, on `@okta/okta-sdk-nodejs`. Every action reads first (an already
 * reached state is success), acts, and leaves proof to `verify`, which reads back.
 */
import type { AccountRef, ActionContext, ActionHandler, ExecuteResult, Provider, ProviderFactoryContext } from '../contract.ts';
import { DeprovisionError, PermanentError, VerificationError, withCheckpoint } from '../contract.ts';
import type { JsonObject, Subject } from '../../src/domain/types.ts';
import { alreadyAbsent } from '../absent.ts';
import { OktaApi, type OktaUser } from './api.ts';
import { createOktaClient } from './client.ts';
import type { OktaConfig } from './config.ts';
import { createDoorActions } from './doors.ts';
import { listOktaMembers } from './members.ts';

/** How long to wait before looking again at a user Okta is still deactivating. */
const TRANSITION_POLL_MS = 5_000;

type DisableMode = 'suspend' | 'deactivate';

function userEvidence(user: OktaUser): { userId: string; status: string; transitioningToStatus: string | null } {
  return { userId: user.id, status: user.status, transitioningToStatus: user.transitioningToStatus };
}

function disableMode(ctx: ActionContext): DisableMode {
  const mode = ctx.params.mode ?? 'suspend';
  if (mode !== 'suspend' && mode !== 'deactivate') {
    throw new PermanentError(`Okta disable_account: unknown mode ${JSON.stringify(mode)} (suspend or deactivate)`);
  }
  return mode;
}

/** The statuses in which a user can no longer sign in, per mode. */
function disabledStatuses(mode: DisableMode): string[] {
  return mode === 'suspend' ? ['SUSPENDED', 'DEPROVISIONED'] : ['DEPROVISIONED'];
}

function waitForTransition(user: OktaUser, checkpoint: JsonObject): ExecuteResult {
  return {
    evidence: { ...userEvidence(user), waiting: 'transitioningToStatus' },
    inProgress: { checkAfterMs: TRANSITION_POLL_MS, checkpoint },
  };
}

/**
 * Logins Okta reads as something else in `/api/v1/users/{login}`: `me` is the user who owns
 * the API token (an admin), and dots are path navigation. Never looked up as a subject.
 */
const SPECIAL_LOGIN = /^(me|\.{1,2})$/i;

/** Logins a subject may have at Okta, most specific first. */
function candidateLogins(subject: Subject): string[] {
  const logins = [subject.userName, ...subject.emails].filter((l): l is string => typeof l === 'string' && l !== '');
  return [...new Set(logins)];
}

export function createOktaProvider(config: OktaConfig, factory: ProviderFactoryContext): Provider {
  const api = new OktaApi(createOktaClient(config, factory.throttle));

  const revokeSessions: ActionHandler = {
    async execute(account, ctx) {
      // Okta has no read-back for sessions and both calls are idempotent: revoke, except
      // when an earlier attempt of this task already did (it failed on the grants after).
      const earlier = ctx.checkpoint?.sessionsRevoked === true ? ctx.checkpoint : null;
      let sessionsRevokedAt: string;
      if (earlier) {
        sessionsRevokedAt = typeof earlier.sessionsRevokedAt === 'string' ? earlier.sessionsRevokedAt : 'unknown';
      } else {
        await api.revokeSessions(account.id, ctx);
        sessionsRevokedAt = ctx.now().toISOString();
      }
      try {
        await api.revokeGrants(account.id, ctx);
      } catch (error) {
        // The retry must not send the sessions DELETE again: hand the progress to it.
        if (error instanceof DeprovisionError && !earlier) throw withCheckpoint(error, { sessionsRevoked: true, sessionsRevokedAt });
        throw error;
      }
      return {
        evidence: {
          userId: account.id,
          sessionsRevoked: true,
          sessionsRevokedBy: earlier ? 'an earlier attempt' : 'this attempt',
          sessionsRevokedAt,
          oauthTokensRevoked: true,
          forgetDevices: true,
          grantsRevoked: true,
        },
      };
    },
    async verify(account, ctx) {
      const grants = await api.listGrants(account.id, ctx);
      const clients = await api.listClients(account.id, ctx);
      const observed = { userId: account.id, grants: grants.map((g) => g.id), clients };
      if (grants.length > 0 || clients.length > 0) {
        throw new VerificationError(
          `Okta revoke_sessions: ${grants.length} grant(s) and ${clients.length} OAuth client(s) remain`,
          observed,
        );
      }
      // Said in the evidence so that it is not read as a verified sign-out (src/audit/proof.ts).
      return { ...observed, sessions: "not verifiable: Okta's API lists no user's sessions; grants and OAuth clients were read back" };
    },
  };

  const disableAccount: ActionHandler = {
    async execute(account, ctx) {
      const mode = disableMode(ctx);
      const user = await api.getUser(account.id, ctx);
      if (!user) return { evidence: { userId: account.id, mode, alreadyDone: true, status: 'DELETED' } };
      if (user.transitioningToStatus) return waitForTransition(user, { mode, requested: true });
      if (disabledStatuses(mode).includes(user.status)) {
        return { evidence: { ...userEvidence(user), mode, alreadyDone: ctx.checkpoint === null } };
      }
      if (mode === 'suspend') {
        if (user.status !== 'ACTIVE') {
          // Okta suspends only ACTIVE users. Deactivating instead would be destructive,
          // which the playbook did not ask for: an operator decides.
          throw new PermanentError(`Okta disable_account: cannot suspend a user in status ${user.status}; use mode deactivate`);
        }
        await api.suspend(user.id, ctx);
        return { evidence: { userId: user.id, mode, previousStatus: user.status, alreadyDone: false } };
      }
      await api.deactivate(user.id, ctx);
      // Deactivation deprovisions every assigned app and may finish asynchronously.
      const after = await api.getUser(user.id, ctx);
      if (after?.transitioningToStatus) return waitForTransition(after, { mode, requested: true });
      return {
        evidence: { userId: user.id, mode, previousStatus: user.status, status: after?.status ?? 'DELETED', alreadyDone: false },
      };
    },
    async verify(account, ctx) {
      const mode = disableMode(ctx);
      const user = await api.getUser(account.id, ctx);
      if (!user) return { userId: account.id, mode, status: 'DELETED' };
      const observed = userEvidence(user);
      if (!disabledStatuses(mode).includes(user.status) || user.transitioningToStatus) {
        const transition = user.transitioningToStatus ? ` (transitioning to ${user.transitioningToStatus})` : '';
        const expected = disabledStatuses(mode).join(' or ');
        throw new VerificationError(`Okta disable_account: user is ${user.status}${transition}, expected ${expected}`, observed);
      }
      return { ...observed, mode };
    },
  };

  const removeGroups: ActionHandler = {
    async execute(account, ctx) {
      const groups = await api.listGroups(account.id, ctx);
      const removable = groups.filter((g) => g.type === 'OKTA_GROUP');
      // Everyone (BUILT_IN) cannot be left; APP_GROUP memberships belong to their app.
      const skipped = groups.filter((g) => g.type !== 'OKTA_GROUP');
      for (const group of removable) await api.removeFromGroup(group.id, account.id, ctx);
      return {
        evidence: {
          userId: account.id,
          removed: removable.map((g) => ({ id: g.id, name: g.name })),
          skipped: skipped.map((g) => ({ id: g.id, name: g.name, type: g.type })),
          alreadyDone: removable.length === 0,
        },
      };
    },
    async verify(account, ctx) {
      const groups = await api.listGroups(account.id, ctx);
      const remaining = groups.filter((g) => g.type === 'OKTA_GROUP');
      const observed = {
        userId: account.id,
        remainingOktaGroups: remaining.map((g) => ({ id: g.id, name: g.name })),
        otherGroups: groups.filter((g) => g.type !== 'OKTA_GROUP').map((g) => ({ id: g.id, type: g.type })),
      };
      if (remaining.length > 0) {
        throw new VerificationError(`Okta remove_groups: ${remaining.length} OKTA_GROUP membership(s) remain`, observed);
      }
      return observed;
    },
  };

  const deleteAccount: ActionHandler = {
    async execute(account, ctx) {
      let user = await api.getUser(account.id, ctx);
      // A checkpoint means this task deactivated the user and waited: gone now, deleted by someone else.
      if (!user)
        return { evidence: { ...alreadyAbsent(account.id, ctx, 'read before delete'), deactivatedByThisTask: ctx.checkpoint !== null } };
      if (user.transitioningToStatus) return waitForTransition(user, { deactivated: true });
      let deactivatedFirst = false;
      if (user.status !== 'DEPROVISIONED') {
        await api.deactivate(user.id, ctx);
        deactivatedFirst = true;
        const after = await api.getUser(user.id, ctx);
        if (!after) return { evidence: { userId: account.id, deactivatedFirst, status: 'DELETED', alreadyDone: false } };
        if (after.transitioningToStatus) return waitForTransition(after, { deactivated: true });
        user = after;
        if (user.status !== 'DEPROVISIONED') {
          // DELETE on a user that is not DEPROVISIONED only deactivates it: stop here and
          // let verify report what Okta shows.
          return { evidence: { ...userEvidence(user), deactivatedFirst, deleted: false, alreadyDone: false } };
        }
      }
      if ((await api.delete(user.id, ctx)) === 'gone')
        return { evidence: { ...alreadyAbsent(user.id, ctx, 'delete answered 404'), deactivatedFirst } };
      return { evidence: { userId: user.id, deactivatedFirst, deleted: true, deletedByAttempt: ctx.attempt, alreadyDone: false } };
    },
    async verify(account, ctx) {
      const user = await api.getUser(account.id, ctx);
      if (user) throw new VerificationError('Okta delete_account: user still exists', userEvidence(user));
      return { userId: account.id, status: 'DELETED', httpStatus: 404 };
    },
  };

  return {
    kind: 'okta',
    name: factory.name,
    async resolve(subject, ctx) {
      const unreadable: string[] = [];
      for (const login of candidateLogins(subject)) {
        // Okta cannot look a login containing "/" up by path, nor `me`, `.` or `..` (see SPECIAL_LOGIN).
        if (login.includes('/') || SPECIAL_LOGIN.test(login.trim())) {
          unreadable.push(login);
          continue;
        }
        const user = await api.getUser(login, ctx);
        if (user) return { id: user.id, login: user.login, status: user.status } satisfies AccountRef;
      }
      if (unreadable.length > 0) {
        throw new PermanentError('Okta resolve: a login contains "/" or is "me", "." or ".." and cannot be looked up by login');
      }
      return null;
    },
    actions: {
      revoke_sessions: revokeSessions,
      disable_account: disableAccount,
      remove_groups: removeGroups,
      delete_account: deleteAccount,
      ...createDoorActions(api),
    },
    listMembers: (organization, ctx) => listOktaMembers(api, organization, ctx),
    async validate(ctx) {
      await api.probe({ signal: ctx.signal, now: () => new Date() });
    },
  };
}
