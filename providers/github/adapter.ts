/**
 * The GitHub adapter: one organization. `revoke_sessions` revokes the SAML SSO credential
 * authorizations (personal access tokens and SSH keys the leaver authorized for the
 * organization, which an IdP session ending does not touch); `disable_account` removes the
 * login from the organization (membership or pending invitation) and as an outside
 * collaborator. Each reads first and is proven by reading back.
 */
import type { AccountRef, ActionHandler, Evidence, ExecuteResult, Provider, ProviderFactoryContext } from '../contract.ts';
import { PermanentError, VerificationError } from '../contract.ts';
import type { Subject } from '../../src/domain/types.ts';
import { GitHubClient, type CallContext, type CredentialAuthorization } from './client.ts';
import { GITHUB_LOGIN, type GitHubConfig } from './config.ts';

type Lookup = GitHubConfig['lookup'];

/** The subject's values for `from`, most specific first, without blanks or repeats. */
function lookupValues(subject: Subject, from: Lookup['from']): string[] {
  const values =
    from === 'email'
      ? subject.emails
      : from === 'externalId'
        ? [subject.externalId]
        : from === 'userNameLocalPart'
          ? [subject.userName?.split('@')[0]]
          : [subject.userName];
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v.trim() !== ''))];
}

function credentialIds(credentials: CredentialAuthorization[]): number[] {
  return credentials.map((c) => c.credentialId);
}

export function createGitHubProvider(config: GitHubConfig, factory: ProviderFactoryContext): Provider {
  const client = new GitHubClient(config, factory.throttle, (message) => factory.logger.warn({ provider: factory.name }, message));
  const org = config.org;

  async function resolveBySaml(subject: Subject, from: Lookup['from'], ctx: CallContext): Promise<AccountRef | null> {
    const values = lookupValues(subject, from);
    if (values.length === 0) throw new PermanentError(`GitHub resolve: the subject has no ${from} to find a SAML identity by`);
    for (const value of values) {
      const identities = await client.findSamlIdentities(value, ctx);
      if (identities === null) {
        throw new PermanentError(
          `GitHub resolve: organization ${org} has no SAML identity provider of its own (none, or SAML set on its enterprise); use lookup by login`,
        );
      }
      // GitHub matches NameID or SCIM userName; compared again here, as GitHub compares.
      const wanted = value.toLowerCase();
      const matching = identities.filter((i) => i.nameId?.toLowerCase() === wanted || i.scimUserName?.toLowerCase() === wanted);
      const logins = [...new Set(matching.map((i) => i.login).filter((l): l is string => l !== null))];
      if (logins.length > 1)
        throw new PermanentError(`GitHub resolve: ${logins.length} GitHub accounts are linked to one SAML NameID; refusing to guess`);
      const [login] = logins;
      // An identity with no linked account: the person never signed in to GitHub through SSO.
      if (login) return { id: login, login, via: 'samlIdentity', nameId: matching[0]?.nameId ?? value };
    }
    return null;
  }

  async function resolveByLogin(subject: Subject, from: Lookup['from'], ctx: CallContext): Promise<AccountRef | null> {
    const [login] = lookupValues(subject, from);
    if (!login) throw new PermanentError(`GitHub resolve: the subject has no ${from} to use as a GitHub login`);
    if (!GITHUB_LOGIN.test(login)) throw new PermanentError(`GitHub resolve: the subject's ${from} is not a GitHub login`);
    // Only an account the organization knows is this subject's: anyone else with the same login is not.
    const membership = await client.getMembership(login, ctx);
    if (membership) return { id: login, login, via: 'login', membershipState: membership.state };
    if (config.removeOutsideCollaborator && (await client.isOutsideCollaborator(login, ctx))) {
      return { id: login, login, via: 'login', outsideCollaborator: true };
    }
    return null;
  }

  const revokeSessions: ActionHandler = {
    async execute(account, ctx): Promise<ExecuteResult> {
      const credentials = await client.listCredentialAuthorizations(account.id, ctx);
      const revoked: CredentialAuthorization[] = [];
      const alreadyGone: number[] = [];
      for (const credential of credentials) {
        // A revocation is harmless to repeat; 404 means an earlier attempt (or the user) already did.
        if ((await client.removeCredentialAuthorization(credential.credentialId, ctx)) === 'removed') revoked.push(credential);
        else alreadyGone.push(credential.credentialId);
      }
      return {
        evidence: { login: account.id, org, credentialAuthorizationsRevoked: revoked, alreadyGone, alreadyDone: revoked.length === 0 },
      };
    },
    async verify(account, ctx): Promise<Evidence> {
      const remaining = await client.listCredentialAuthorizations(account.id, ctx);
      const observed = { login: account.id, org, remainingCredentialAuthorizations: credentialIds(remaining) };
      if (remaining.length > 0) {
        throw new VerificationError(`GitHub revoke_sessions: ${remaining.length} SAML SSO credential authorization(s) remain`, observed);
      }
      return observed;
    },
  };

  const disableAccount: ActionHandler = {
    async execute(account, ctx): Promise<ExecuteResult> {
      // Read first: "removed" and "was not a member" are different facts (a repeat after a takeover sees the latter).
      const membershipBefore = await client.getMembership(account.id, ctx);
      const membershipRemoved = membershipBefore !== null && (await client.removeMembership(account.id, ctx)) === 'removed';
      let collaboratorBefore: boolean | null = null;
      let collaboratorRemoved = false;
      if (config.removeOutsideCollaborator) {
        collaboratorBefore = await client.isOutsideCollaborator(account.id, ctx);
        if (collaboratorBefore) collaboratorRemoved = (await client.removeOutsideCollaborator(account.id, ctx)) === 'removed';
      }
      return {
        evidence: {
          login: account.id,
          org,
          membershipBefore: membershipBefore ? { state: membershipBefore.state, role: membershipBefore.role } : null,
          membershipRemoved,
          outsideCollaboratorBefore: collaboratorBefore,
          outsideCollaboratorRemoved: collaboratorRemoved,
          alreadyDone: !membershipRemoved && !collaboratorRemoved,
        },
      };
    },
    async verify(account, ctx): Promise<Evidence> {
      const membership = await client.getMembership(account.id, ctx);
      const collaborator = config.removeOutsideCollaborator ? await client.isOutsideCollaborator(account.id, ctx) : null;
      const observed = {
        login: account.id,
        org,
        membership: membership ? { state: membership.state, role: membership.role } : 'none (404)',
        outsideCollaborator: collaborator,
      };
      if (membership) throw new VerificationError(`GitHub disable_account: still ${membership.state} in the organization`, observed);
      if (collaborator) throw new VerificationError('GitHub disable_account: still an outside collaborator', observed);
      return observed;
    },
  };

  return {
    kind: 'github',
    name: factory.name,
    resolve(subject, ctx) {
      const { lookup } = config;
      return lookup.by === 'samlIdentity' ? resolveBySaml(subject, lookup.from, ctx) : resolveByLogin(subject, lookup.from, ctx);
    },
    actions: { revoke_sessions: revokeSessions, disable_account: disableAccount },
    async validate(ctx) {
      const call = { signal: ctx.signal, now: () => new Date() };
      await client.probe(call);
      // Only an owner can remove members; and a token that cannot see memberships may be
      // answered 404 for them, which would read as "not a member": refuse it at start-up.
      const own = await client.ownMembership(call);
      if (own.state !== 'active' || own.role !== 'admin') {
        throw new PermanentError(
          `GitHub: the token's user is ${own.state} ${own.role} of organization ${org}, not an owner: it cannot remove members`,
        );
      }
    },
  };
}
