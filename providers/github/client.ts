/**
 * The GitHub calls the adapter needs, on Octokit (`@octokit/rest`, GraphQL through its
 * `octokit.graphql`, which is `@octokit/graphql`). Octokit's requests go through our
 * `fetchOnce` (providers/http/request.ts: the throttle and lease fence, the attempt's signal
 * plus a per-request timeout, no redirects). `@octokit/rest` carries no retry or throttling
 * plugin, and none is added: the engine owns retries and waits out rate limits itself.
 */
import { Octokit } from '@octokit/rest';
import { PermanentError } from '../contract.ts';
import { fetchOnce, noThrottle, type Throttle } from '../http/request.ts';
import type { GitHubConfig } from './config.ts';
import { httpStatus, toGitHubError, type GitHubOperation } from './errors.ts';

/** The REST API version whose answers this client reads. */
const API_VERSION = '2022-11-28';
/** GitHub's largest page. */
const PAGE_SIZE = 100;
/** Pages read of one list before giving up: 10,000 entries. */
const MAX_PAGES = 100;

/**
 * The organization's SAML identity whose NameID (or SCIM userName) is `$userName`: the
 * query the sandbox answers. `first: 2` is enough to see that a value is ambiguous.
 */
export const SAML_IDENTITY_QUERY = `query ($org: String!, $userName: String!) {
  organization(login: $org) {
    samlIdentityProvider {
      externalIdentities(first: 2, userName: $userName) {
        nodes {
          samlIdentity { nameId username }
          user { login }
        }
      }
    }
  }
}`;

const OPERATIONS = {
  probe: { name: 'get organization', needs: 'Members: read (classic token: read:org)' },
  ownMembership: { name: "get the token owner's organization membership", needs: 'Members: read (classic token: read:org)' },
  samlIdentity: { name: 'find SAML identity', needs: 'Members: read, by an organization owner (classic token: read:org)' },
  getMembership: { name: 'get organization membership', needs: 'Members: read (classic token: read:org)' },
  removeMembership: {
    name: 'remove organization membership',
    needs: 'Members: write, by an organization owner (classic token: admin:org)',
  },
  listCollaborators: { name: 'list outside collaborators', needs: 'Members: read (classic token: read:org)' },
  removeCollaborator: { name: 'remove outside collaborator', needs: 'Members: write (classic token: admin:org)' },
  listCredentials: {
    name: 'list SAML SSO credential authorizations',
    needs: 'Administration: read, by an organization owner (classic token: read:org)',
  },
  removeCredential: {
    name: 'remove SAML SSO credential authorization',
    needs: 'Administration: write, by an organization owner (classic token: admin:org)',
  },
} satisfies Record<string, GitHubOperation>;

export interface CallContext {
  signal: AbortSignal;
  now: () => Date;
}

/** A SAML identity as the adapter keeps it. */
export interface SamlIdentity {
  nameId: string | null;
  scimUserName: string | null;
  /** Null when no GitHub account is linked to the identity. */
  login: string | null;
}

export interface Membership {
  state: string;
  role: string;
}

/**
 * A credential authorization as the adapter keeps it. Never `token_last_eight` (part of a
 * token) nor the token's note or title (free text its owner wrote).
 */
// A type alias: it goes into evidence (JsonObject), which an interface does not satisfy.
export type CredentialAuthorization = {
  credentialId: number;
  type: string;
  authorizedAt: string | null;
};

export class GitHubClient {
  private readonly octokit: InstanceType<typeof Octokit>;
  private readonly org: string;
  private readonly token: string;

  /** `throttle`: the provider's request rate limit and the lease fence (ProviderFactoryContext.throttle). */
  constructor(config: GitHubConfig, throttle: Throttle = noThrottle, warn: (message: string) => void = () => undefined) {
    this.org = config.org;
    this.token = config.token;
    this.octokit = new Octokit({
      auth: config.token,
      baseUrl: config.baseUrl,
      userAgent: 'deprovisiond',
      request: {
        fetch: (url: string, init: RequestInit) =>
          fetchOnce(url, {
            method: init.method ?? 'GET',
            // Octokit has no option for a default header; the REST version the shapes above are read by is pinned here.
            headers: { ...(init.headers as Record<string, string>), 'x-github-api-version': API_VERSION },
            body: typeof init.body === 'string' ? init.body : undefined,
            // Every call below passes the attempt's signal.
            signal: init.signal ?? new AbortController().signal,
            timeoutMs: config.requestTimeoutMs,
            throttle,
            summary: `GitHub ${init.method ?? 'GET'} request`,
          }),
      },
      // The request-log plugin logs each request's options at debug (headers included) and every
      // expected 404 at error: neither is wanted. Deprecation notices are kept.
      log: {
        debug: () => undefined,
        info: () => undefined,
        warn: (message: string) => warn(message.slice(0, 300)),
        error: () => undefined,
      },
    });
  }

  private async call<T>(operation: GitHubOperation, ctx: CallContext, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw toGitHubError(error, operation, ctx.now().getTime(), this.token);
    }
  }

  /** Like `call`, with the listed statuses answered as null instead of thrown. */
  private async callAllowing<T>(operation: GitHubOperation, allowed: number[], ctx: CallContext, fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn();
    } catch (error) {
      const status = httpStatus(error);
      if (status !== null && allowed.includes(status)) return null;
      throw toGitHubError(error, operation, ctx.now().getTime(), this.token);
    }
  }

  async probe(ctx: CallContext): Promise<void> {
    await this.call(OPERATIONS.probe, ctx, () => this.octokit.rest.orgs.get({ org: this.org, request: { signal: ctx.signal } }));
  }

  /** The token owner's own membership of the organization (`GET /user/memberships/orgs/{org}`). */
  async ownMembership(ctx: CallContext): Promise<Membership> {
    const { data } = await this.call(OPERATIONS.ownMembership, ctx, () =>
      this.octokit.rest.orgs.getMembershipForAuthenticatedUser({ org: this.org, request: { signal: ctx.signal } }),
    );
    return toMembership(data, OPERATIONS.ownMembership);
  }

  /**
   * The identities GitHub matches to `userName`. Null when the organization has no SAML
   * identity provider of its own (none, or one set on its enterprise).
   */
  async findSamlIdentities(userName: string, ctx: CallContext): Promise<SamlIdentity[] | null> {
    const data = await this.call(OPERATIONS.samlIdentity, ctx, () =>
      this.octokit.graphql<unknown>(SAML_IDENTITY_QUERY, { org: this.org, userName, request: { signal: ctx.signal } }),
    );
    const organization = (data as { organization?: unknown } | null)?.organization;
    if (!organization || typeof organization !== 'object') {
      throw new PermanentError('GitHub find SAML identity: the organization was not found, or the token cannot see it');
    }
    const provider = (organization as { samlIdentityProvider?: unknown }).samlIdentityProvider;
    if (!provider || typeof provider !== 'object') return null;
    const nodes = (provider as { externalIdentities?: { nodes?: unknown } }).externalIdentities?.nodes;
    return (Array.isArray(nodes) ? nodes : []).map(toSamlIdentity);
  }

  /** Null when the login is neither a member nor invited (404). */
  async getMembership(login: string, ctx: CallContext): Promise<Membership | null> {
    const answer = await this.callAllowing(OPERATIONS.getMembership, [404], ctx, () =>
      this.octokit.rest.orgs.getMembershipForUser({ org: this.org, username: login, request: { signal: ctx.signal } }),
    );
    return answer ? toMembership(answer.data, OPERATIONS.getMembership) : null;
  }

  /** Removes a member or cancels an invitation; `gone` when there was neither (404). */
  async removeMembership(login: string, ctx: CallContext): Promise<'removed' | 'gone'> {
    const answer = await this.callAllowing(OPERATIONS.removeMembership, [404], ctx, () =>
      this.octokit.rest.orgs.removeMembershipForUser({ org: this.org, username: login, request: { signal: ctx.signal } }),
    );
    return answer ? 'removed' : 'gone';
  }

  /** Whether the login is among the organization's outside collaborators (every page read). */
  async isOutsideCollaborator(login: string, ctx: CallContext): Promise<boolean> {
    const wanted = login.toLowerCase();
    for (let page = 1; page <= MAX_PAGES; page += 1) {
      const { data } = await this.call(OPERATIONS.listCollaborators, ctx, () =>
        this.octokit.rest.orgs.listOutsideCollaborators({ org: this.org, per_page: PAGE_SIZE, page, request: { signal: ctx.signal } }),
      );
      const users = Array.isArray(data) ? (data as unknown[]) : [];
      if (users.some((u) => loginOf(u)?.toLowerCase() === wanted)) return true;
      if (users.length < PAGE_SIZE) return false;
    }
    throw new PermanentError(`GitHub list outside collaborators: more than ${MAX_PAGES * PAGE_SIZE}; refusing to guess`);
  }

  /** `gone` when GitHub answers 404 (the user no longer exists). */
  async removeOutsideCollaborator(login: string, ctx: CallContext): Promise<'removed' | 'gone'> {
    const answer = await this.callAllowing(OPERATIONS.removeCollaborator, [404], ctx, () =>
      this.octokit.rest.orgs.removeOutsideCollaborator({ org: this.org, username: login, request: { signal: ctx.signal } }),
    );
    return answer ? 'removed' : 'gone';
  }

  /**
   * The personal access tokens and SSH keys `login` authorized for the organization's SAML
   * SSO, every page. The endpoint is GitHub Enterprise Cloud's, absent from Octokit's
   * generated methods, so it is called by route.
   */
  async listCredentialAuthorizations(login: string, ctx: CallContext): Promise<CredentialAuthorization[]> {
    const found: CredentialAuthorization[] = [];
    const wanted = login.toLowerCase();
    for (let page = 1; page <= MAX_PAGES; page += 1) {
      const answer = await this.call(OPERATIONS.listCredentials, ctx, () =>
        this.octokit.request('GET /orgs/{org}/credential-authorizations', {
          org: this.org,
          login,
          per_page: PAGE_SIZE,
          page,
          request: { signal: ctx.signal },
        }),
      );
      const data: unknown = answer.data;
      const entries = Array.isArray(data) ? (data as unknown[]) : [];
      for (const entry of entries) {
        const credential = toCredential(entry);
        // The filter is GitHub's; what it answered is checked, so another user's credential is never revoked.
        if (credential.login.toLowerCase() === wanted) found.push(credential.value);
      }
      if (entries.length < PAGE_SIZE) return found;
    }
    throw new PermanentError(`GitHub list SAML SSO credential authorizations: more than ${MAX_PAGES * PAGE_SIZE}; refusing to guess`);
  }

  /** `gone` when the authorization no longer exists (404). */
  async removeCredentialAuthorization(credentialId: number, ctx: CallContext): Promise<'removed' | 'gone'> {
    const answer = await this.callAllowing(OPERATIONS.removeCredential, [404], ctx, () =>
      this.octokit.request('DELETE /orgs/{org}/credential-authorizations/{credential_id}', {
        org: this.org,
        credential_id: credentialId,
        request: { signal: ctx.signal },
      }),
    );
    return answer ? 'removed' : 'gone';
  }
}

function toMembership(data: unknown, operation: GitHubOperation): Membership {
  const { state, role } = (data ?? {}) as { state?: unknown; role?: unknown };
  if (typeof state !== 'string' || typeof role !== 'string')
    throw new PermanentError(`GitHub ${operation.name}: answer without state or role`);
  return { state, role };
}

/** A listed user's login, or null. */
function loginOf(user: unknown): string | null {
  return text((user as { login?: unknown } | null)?.login);
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function toSamlIdentity(node: unknown): SamlIdentity {
  const n = (node ?? {}) as { samlIdentity?: { nameId?: unknown; username?: unknown } | null; user?: { login?: unknown } | null };
  return { nameId: text(n.samlIdentity?.nameId), scimUserName: text(n.samlIdentity?.username), login: text(n.user?.login) };
}

function toCredential(entry: unknown): { login: string; value: CredentialAuthorization } {
  const e = (entry ?? {}) as { login?: unknown; credential_id?: unknown; credential_type?: unknown; credential_authorized_at?: unknown };
  if (typeof e.credential_id !== 'number' || !Number.isSafeInteger(e.credential_id) || typeof e.login !== 'string') {
    throw new PermanentError('GitHub list SAML SSO credential authorizations: an entry without credential_id or login');
  }
  return {
    login: e.login,
    value: { credentialId: e.credential_id, type: text(e.credential_type) ?? 'unknown', authorizedAt: text(e.credential_authorized_at) },
  };
}
