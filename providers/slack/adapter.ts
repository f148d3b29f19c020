/**
 * The Slack adapter: finds the person by email (`users.lookupByEmail`), signs them out on
 * every device (`admin.users.session.reset`, Enterprise Grid) and deactivates the account
 * (SCIM, or removal from every workspace on Grid), then proves each by reading it back.
 */
import type { AccountRef, ActionContext, ActionHandler, Evidence, ExecuteResult, Provider, ProviderFactoryContext } from '../contract.ts';
import { PermanentError, VerificationError } from '../contract.ts';
import type { Subject } from '../../src/domain/types.ts';
import { SlackWebApi, TEAM_ID, type CallContext, type SlackUser } from './client.ts';
import { SLACK_DISABLE_MODES, type SlackConfig, type SlackDisableMode } from './config.ts';
import { SlackScimClient } from './scim-client.ts';

/** Scopes without which no subject can be found: validate() refuses to start without them. */
const LOOKUP_SCOPES = ['users:read', 'users:read.email'];
/** Scopes of revoke_sessions and the admin_remove mode: their absence is logged at start. */
const ADMIN_SCOPES = ['admin.users:read', 'admin.users:write'];

/** An address as lookupByEmail takes it: one @, no whitespace, at most 254 characters. */
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}$/;

function candidateEmails(subject: Subject): string[] {
  const seen = new Map<string, string>();
  for (const email of subject.emails) {
    if (typeof email === 'string' && email.length <= 254 && EMAIL.test(email)) seen.set(email.toLowerCase(), email);
  }
  return [...seen.values()];
}

function accountOf(user: SlackUser): AccountRef {
  return { id: user.id, teamId: user.teamId, teams: user.teams, deleted: user.deleted };
}

/** The workspaces recorded on the account when it was resolved (the user may have left some since). */
function resolvedTeams(account: AccountRef): string[] {
  const teams = account.teams;
  return Array.isArray(teams) ? teams.filter((t): t is string => typeof t === 'string' && TEAM_ID.test(t)) : [];
}

/** The workspaces to list sessions in: those known at resolve and those the user is in now. */
function workspacesOf(account: AccountRef, user: SlackUser): string[] {
  const current = user.teams ?? (user.teamId ? [user.teamId] : []);
  return [...new Set([...resolvedTeams(account), ...current])];
}

export function createSlackProvider(config: SlackConfig, factory: ProviderFactoryContext): Provider {
  const web = new SlackWebApi(config, factory.logger, factory.throttle);
  const scim = config.scim ? new SlackScimClient(config, factory.throttle) : null;

  function modeOf(ctx: ActionContext): SlackDisableMode {
    const mode = ctx.params.mode ?? config.disableMode;
    if (typeof mode !== 'string' || !(SLACK_DISABLE_MODES as readonly string[]).includes(mode)) {
      throw new PermanentError(`Slack disable_account: unknown mode ${JSON.stringify(mode)} (${SLACK_DISABLE_MODES.join(', ')})`);
    }
    return mode as SlackDisableMode;
  }

  function scimFor(mode: SlackDisableMode): SlackScimClient {
    if (!scim)
      throw new PermanentError(`Slack disable_account: mode ${mode} needs the \`scim\` block (Slack SCIM API) in the provider's config`);
    return scim;
  }

  const revokeSessions: ActionHandler = {
    async execute(account, ctx): Promise<ExecuteResult> {
      // Idempotent (a reset with no session left resets nothing), so it is simply sent again.
      let outcome: 'reset' | 'absent';
      try {
        outcome = await web.resetSessions(account.id, ctx);
      } catch (error) {
        // disable_account runs beside this step: a user it already deactivated has no session
        // left, whatever Slack answers a reset of them. Anything else is the refusal it was.
        if (!(error instanceof PermanentError) || (await web.userInfo(account.id, ctx))?.deleted !== true) throw error;
        return { evidence: { userId: account.id, deleted: true, sessionsReset: false, alreadyDone: true } };
      }
      if (outcome === 'absent') return { evidence: { userId: account.id, found: false, alreadyDone: true } };
      return { evidence: { userId: account.id, sessionsReset: true, resetAt: ctx.now().toISOString(), alreadyDone: false } };
    },
    async verify(account, ctx): Promise<Evidence> {
      const user = await web.userInfo(account.id, ctx);
      if (!user) return { userId: account.id, found: false };
      const workspaces = workspacesOf(account, user);
      if (workspaces.length === 0) {
        return {
          userId: account.id,
          deleted: user.deleted,
          sessions: 'not verifiable: the user belongs to no workspace to list sessions in',
        };
      }
      const remaining: Array<{ teamId: string; sessionIds: string[] }> = [];
      for (const teamId of workspaces) {
        const { sessionIds, more } = await web.activeSessions(account.id, teamId, ctx);
        if (sessionIds.length > 0 || more) remaining.push({ teamId, sessionIds });
      }
      const observed = { userId: account.id, workspacesChecked: workspaces, remainingSessions: remaining };
      if (remaining.length > 0) {
        const count = remaining.reduce((n, r) => n + r.sessionIds.length, 0);
        throw new VerificationError(
          `Slack revoke_sessions: ${count} active session(s) remain in ${remaining.length} workspace(s)`,
          observed,
        );
      }
      return { userId: account.id, activeSessions: 0, workspacesChecked: workspaces };
    },
  };

  async function deactivateThroughScim(account: AccountRef, mode: 'scim_patch' | 'scim_delete', ctx: CallContext): Promise<ExecuteResult> {
    const client = scimFor(mode);
    // Read first: a DELETE on a deactivated user is not a no-op, and "already done" is evidence.
    const active = await client.active(account.id, ctx);
    if (active === null) return { evidence: { userId: account.id, mode, found: false, alreadyDone: true } };
    if (!active) return { evidence: { userId: account.id, mode, activeBefore: false, alreadyDone: true } };
    const outcome = mode === 'scim_patch' ? await client.deactivate(account.id, ctx) : await client.delete(account.id, ctx);
    if (outcome === 'gone') return { evidence: { userId: account.id, mode, found: false, alreadyDone: true } };
    return { evidence: { userId: account.id, mode, activeBefore: true, alreadyDone: false } };
  }

  async function removeFromWorkspaces(account: AccountRef, ctx: CallContext): Promise<ExecuteResult> {
    const mode = 'admin_remove';
    // Read first: admin.users.remove from a workspace the user already left is refused.
    const user = await web.userInfo(account.id, ctx);
    if (!user) return { evidence: { userId: account.id, mode, found: false, alreadyDone: true } };
    if (user.deleted) return { evidence: { userId: account.id, mode, deleted: true, alreadyDone: true } };
    if (user.teams === null) {
      throw new PermanentError(
        'Slack disable_account admin_remove: the user has no enterprise_user (not Enterprise Grid); use a scim mode',
      );
    }
    const removedFrom: string[] = [];
    for (const teamId of user.teams) {
      if ((await web.removeFromWorkspace(teamId, account.id, ctx)) === 'removed') removedFrom.push(teamId);
    }
    return { evidence: { userId: account.id, mode, removedFrom, alreadyDone: user.teams.length === 0 } };
  }

  const disableAccount: ActionHandler = {
    async execute(account, ctx) {
      const mode = modeOf(ctx);
      return mode === 'admin_remove' ? removeFromWorkspaces(account, ctx) : deactivateThroughScim(account, mode, ctx);
    },
    async verify(account, ctx): Promise<Evidence> {
      const mode = modeOf(ctx);
      if (mode !== 'admin_remove') {
        const active = await scimFor(mode).active(account.id, ctx);
        if (active === null) return { userId: account.id, mode, found: false };
        if (active)
          throw new VerificationError('Slack disable_account: SCIM shows the user active', { userId: account.id, mode, scimActive: true });
      }
      // What every client of the Web API sees: a deactivated user is `deleted: true`.
      const user = await web.userInfo(account.id, ctx);
      if (!user) return { userId: account.id, mode, found: false };
      const observed = { userId: account.id, mode, ...(mode === 'admin_remove' ? {} : { scimActive: false }), deleted: user.deleted };
      if (user.deleted) return observed;
      if (mode !== 'admin_remove') throw new VerificationError('Slack disable_account: users.info shows the user not deleted', observed);
      const workspaces = user.teams ?? [];
      if (workspaces.length > 0) {
        throw new VerificationError(`Slack disable_account: the user is still in ${workspaces.length} workspace(s)`, {
          ...observed,
          workspaces,
        });
      }
      return { ...observed, workspaces };
    },
  };

  return {
    kind: 'slack',
    name: factory.name,
    async resolve(subject, ctx) {
      const emails = candidateEmails(subject);
      if (emails.length === 0) throw new PermanentError('Slack resolve: the subject has no email address to look the user up by');
      for (const email of emails) {
        const user = await web.lookupByEmail(email, ctx);
        if (!user) continue;
        if (user.email !== null && user.email.toLowerCase() !== email.toLowerCase()) {
          throw new PermanentError('Slack resolve: the user Slack answered holds another email address');
        }
        if (user.isBot) throw new PermanentError('Slack resolve: the email address belongs to a bot user; refusing to act on it');
        return accountOf(user);
      }
      return null;
    },
    actions: { revoke_sessions: revokeSessions, disable_account: disableAccount },
    async validate(ctx) {
      const call = { signal: ctx.signal, now: () => new Date() };
      const { scopes } = await web.authTest(call);
      if (scopes) {
        const missing = LOOKUP_SCOPES.filter((s) => !scopes.includes(s));
        if (missing.length > 0)
          throw new PermanentError(`Slack auth.test: the token lacks scope ${missing.join(', ')} (needed to find people)`);
        const missingAdmin = ADMIN_SCOPES.filter((s) => !scopes.includes(s));
        if (missingAdmin.length > 0) {
          ctx.logger.warn(
            { provider: factory.name, missingScopes: missingAdmin },
            'Slack token lacks admin scopes: revoke_sessions and disableMode admin_remove will fail',
          );
        }
      }
      await scim?.probe(call);
    },
  };
}
