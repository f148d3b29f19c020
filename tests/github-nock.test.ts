/**
 * The exact requests the GitHub adapter sends, asserted with nock: `Authorization: token …`
 * and the API version header on every call, the GraphQL SAML identity query and its
 * variables (at `/graphql`, and at `/api/graphql` on GitHub Enterprise Server), membership,
 * outside collaborator and credential authorization paths, pages, verbs; and how GitHub's
 * answers (primary and secondary rate limits, refusals naming a permission, GraphQL error
 * types) become typed errors without the token in them.
 */
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { SAML_IDENTITY_QUERY } from '../providers/github/client.ts';
import { githubConfigSchema, type GitHubConfigInput } from '../providers/github/config.ts';
import { DEFAULT_RATE_LIMIT_DELAY_MS } from '../providers/github/errors.ts';
import { githubModule } from '../providers/github/index.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { strictNock } from './helpers/strict-nock.ts';

const API = 'https://api.github.example';
const TOKEN = 'github_pat_nock_0123456789abcdef';
const NOW = new Date('2025-03-01T12:00:00.000Z');
const account: AccountRef = { id: 'ada-l', login: 'ada-l', via: 'samlIdentity', nameId: 'ada@acme.example' };
const subject: Subject = { externalId: 'HR-1815', userName: 'ada@acme.example', emails: ['ada@acme.example'] };
const ctx = () => actionContext(subject, { now: () => NOW });

function provider(overrides: Partial<GitHubConfigInput> = {}): Provider {
  const config = githubConfigSchema.parse({ baseUrl: API, org: 'acme', token: TOKEN, requestTimeoutMs: 5000, ...overrides });
  return githubModule.create(config, { name: 'github-nock', logger: silentLogger() });
}

/** Every call carries the token the way Octokit sends a personal access token, and the API version. */
const github = (origin = API) => nock(origin, { reqheaders: { authorization: `token ${TOKEN}`, 'x-github-api-version': '2022-11-28' } });

const identity = (nameId: string, login: string | null) => ({ samlIdentity: { nameId, username: null }, user: login ? { login } : null });
const samlAnswer = (nodes: unknown[]) => ({ data: { organization: { samlIdentityProvider: { externalIdentities: { nodes } } } } });

strictNock();

describe('requests sent', () => {
  it('resolve by SAML identity: POST /graphql with the query, the org and the NameID as variables', async () => {
    github()
      .post('/graphql', { query: SAML_IDENTITY_QUERY, variables: { org: 'acme', userName: 'ada@acme.example' } })
      .reply(200, samlAnswer([identity('Ada@acme.example', 'ada-l')]));
    expect(await provider().resolve(subject, ctx())).toEqual({
      id: 'ada-l',
      login: 'ada-l',
      via: 'samlIdentity',
      nameId: 'Ada@acme.example',
    });
  });

  it('GitHub Enterprise Server: REST under /api/v3, GraphQL at /api/graphql', async () => {
    const ghes = 'https://ghe.acme.example';
    github(ghes)
      .post('/api/graphql')
      .reply(200, samlAnswer([identity('ada@acme.example', 'ada-l')]));
    github(ghes).get('/api/v3/orgs/acme').reply(200, { login: 'acme', id: 1 });
    github(ghes).get('/api/v3/user/memberships/orgs/acme').reply(200, { state: 'active', role: 'admin' });
    const p = provider({ baseUrl: `${ghes}/api/v3` });
    expect(await p.resolve(subject, ctx())).toMatchObject({ login: 'ada-l' });
    await p.validate!({ signal: AbortSignal.timeout(5000), logger: silentLogger() });
  });

  it('validate: GET /orgs/{org}, then the token owner must be an active owner (admin) of it', async () => {
    const validateCtx = { signal: AbortSignal.timeout(5000), logger: silentLogger() };
    github()
      .get('/orgs/acme')
      .reply(200, { login: 'acme' })
      .get('/user/memberships/orgs/acme')
      .reply(200, { state: 'active', role: 'admin' });
    await provider().validate!(validateCtx);
    // A member's token may be answered 404 for memberships it cannot see: that would read as "not a member".
    github()
      .get('/orgs/acme')
      .reply(200, { login: 'acme' })
      .get('/user/memberships/orgs/acme')
      .reply(200, { state: 'active', role: 'member' });
    const error = await provider().validate!(validateCtx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe(
      "GitHub: the token's user is active member of organization acme, not an owner: it cannot remove members",
    );
  });

  it('an identity with no linked account, or none at all, is no account; two accounts for one NameID are refused', async () => {
    github()
      .post('/graphql')
      .reply(200, samlAnswer([identity('ada@acme.example', null)]));
    expect(await provider().resolve(subject, ctx())).toBeNull();
    github().post('/graphql').reply(200, samlAnswer([]));
    expect(await provider().resolve(subject, ctx())).toBeNull();
    github()
      .post('/graphql')
      .reply(200, samlAnswer([identity('ada@acme.example', 'ada-l'), identity('ADA@acme.example', 'ada-2')]));
    await expect(provider().resolve(subject, ctx())).rejects.toBeInstanceOf(PermanentError);
  });

  it('an identity GitHub answered for another NameID is not taken', async () => {
    github()
      .post('/graphql')
      .reply(200, samlAnswer([identity('eve@acme.example', 'eve')]));
    expect(await provider().resolve(subject, ctx())).toBeNull();
  });

  it('no SAML identity provider on the organization is a permanent error that says what to do', async () => {
    github()
      .post('/graphql')
      .reply(200, { data: { organization: { samlIdentityProvider: null } } });
    const error = await provider()
      .resolve(subject, ctx())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/no SAML identity provider of its own.*use lookup by login/);
  });

  it('resolve by login: GET /orgs/{org}/memberships/{login}; not a member, then the outside collaborators', async () => {
    const byLogin = provider({ lookup: { by: 'login', from: 'userNameLocalPart' } });
    github()
      .get('/orgs/acme/memberships/ada')
      .reply(200, { state: 'active', role: 'member', user: { login: 'ada' } });
    expect(await byLogin.resolve(subject, ctx())).toEqual({ id: 'ada', login: 'ada', via: 'login', membershipState: 'active' });
    github()
      .get('/orgs/acme/memberships/ada')
      .reply(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' })
      .get('/orgs/acme/outside_collaborators')
      .query({ per_page: '100', page: '1' })
      .reply(200, [{ login: 'someone-else' }]);
    expect(await byLogin.resolve(subject, ctx())).toBeNull();
  });

  it('a subject value that is not a GitHub login is refused before any request', async () => {
    const byLogin = provider({ lookup: { by: 'login', from: 'userName' } });
    await expect(byLogin.resolve(subject, ctx())).rejects.toThrow(/is not a GitHub login/);
  });

  it('revoke_sessions: lists the login’s credential authorizations, DELETEs each by credential_id', async () => {
    github()
      .get('/orgs/acme/credential-authorizations')
      .query({ login: 'ada-l', per_page: '100', page: '1' })
      .reply(200, [
        {
          login: 'ada-l',
          credential_id: 161001,
          credential_type: 'personal access token',
          token_last_eight: 'a1b2c3d4',
          credential_authorized_at: '2025-01-01T00:00:00Z',
        },
        { login: 'ada-l', credential_id: 161002, credential_type: 'SSH key', fingerprint: 'SHA256:x', credential_authorized_at: null },
        // Another login's credential in the answer: never revoked.
        { login: 'eve', credential_id: 161003, credential_type: 'SSH key' },
      ])
      .delete('/orgs/acme/credential-authorizations/161001')
      .reply(204)
      .delete('/orgs/acme/credential-authorizations/161002')
      .reply(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    const result = await provider().actions.revoke_sessions!.execute(account, ctx());
    expect(result.evidence).toEqual({
      login: 'ada-l',
      org: 'acme',
      credentialAuthorizationsRevoked: [{ credentialId: 161001, type: 'personal access token', authorizedAt: '2025-01-01T00:00:00Z' }],
      alreadyGone: [161002],
      alreadyDone: false,
    });
    // Part of a token is still part of a token.
    expect(JSON.stringify(result.evidence)).not.toContain('a1b2c3d4');
  });

  it('revoke_sessions verify: a credential authorization still listed fails it', async () => {
    github()
      .get('/orgs/acme/credential-authorizations')
      .query(true)
      .reply(200, [{ login: 'ada-l', credential_id: 161001, credential_type: 'personal access token' }]);
    const error = await provider()
      .actions.revoke_sessions!.verify(account, ctx())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({ login: 'ada-l', org: 'acme', remainingCredentialAuthorizations: [161001] });
  });

  it('disable_account: reads the membership, DELETEs it, reads every page of outside collaborators, DELETEs the login there', async () => {
    const page1 = Array.from({ length: 100 }, (_, i) => ({ login: `user-${i}` }));
    github()
      .get('/orgs/acme/memberships/ada-l')
      .reply(200, { state: 'active', role: 'admin' })
      .delete('/orgs/acme/memberships/ada-l')
      .reply(204)
      .get('/orgs/acme/outside_collaborators')
      .query({ per_page: '100', page: '1' })
      .reply(200, page1)
      .get('/orgs/acme/outside_collaborators')
      .query({ per_page: '100', page: '2' })
      .reply(200, [{ login: 'Ada-L' }])
      .delete('/orgs/acme/outside_collaborators/ada-l')
      .reply(204);
    const result = await provider().actions.disable_account!.execute(account, ctx());
    expect(result.evidence).toEqual({
      login: 'ada-l',
      org: 'acme',
      membershipBefore: { state: 'active', role: 'admin' },
      membershipRemoved: true,
      outsideCollaboratorBefore: true,
      outsideCollaboratorRemoved: true,
      alreadyDone: false,
    });
  });

  it('disable_account verify: membership 404 and not among outside collaborators; a membership still there fails it', async () => {
    github()
      .get('/orgs/acme/memberships/ada-l')
      .reply(404, { message: 'Not Found' })
      .get('/orgs/acme/outside_collaborators')
      .query({ per_page: '100', page: '1' })
      .reply(200, []);
    expect(await provider().actions.disable_account!.verify(account, ctx())).toEqual({
      login: 'ada-l',
      org: 'acme',
      membership: 'none (404)',
      outsideCollaborator: false,
    });
    github()
      .get('/orgs/acme/memberships/ada-l')
      .reply(200, { state: 'pending', role: 'member' })
      .get('/orgs/acme/outside_collaborators')
      .query(true)
      .reply(200, []);
    const error = await provider()
      .actions.disable_account!.verify(account, ctx())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as Error).message).toBe('GitHub disable_account: still pending in the organization');
  });

  it('removeOutsideCollaborator: false leaves the outside collaborators alone', async () => {
    github().get('/orgs/acme/memberships/ada-l').reply(404, { message: 'Not Found' });
    const result = await provider({ removeOutsideCollaborator: false }).actions.disable_account!.execute(account, ctx());
    expect(result.evidence).toMatchObject({
      membershipBefore: null,
      membershipRemoved: false,
      outsideCollaboratorBefore: null,
      alreadyDone: true,
    });
  });
});

describe('errors', () => {
  const membershipError = async (p = provider()) => p.actions.disable_account!.verify(account, ctx()).catch((e: unknown) => e);
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    github()
      .get('/orgs/acme/memberships/ada-l')
      .reply(status, body as nock.Body, headers);
  };

  it('a secondary rate limit (403 or 429 with retry-after) waits what retry-after says', async () => {
    answer(403, { message: 'You have exceeded a secondary rate limit.' }, { 'retry-after': '30', 'x-ratelimit-remaining': '4000' });
    expect(((await membershipError()) as RateLimitedError).retryAfterMs).toBe(30_000);
    answer(429, { message: 'You have exceeded a secondary rate limit.' }, { 'retry-after': '7' });
    expect(((await membershipError()) as RateLimitedError).retryAfterMs).toBe(7_000);
  });

  it('the primary rate limit (x-ratelimit-remaining: 0) waits until x-ratelimit-reset', async () => {
    const reset = String(NOW.getTime() / 1000 + 120);
    answer(403, { message: 'API rate limit exceeded for user ID 1.' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset });
    const error = await membershipError();
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(120_000);
    // A limit that names no delay: GitHub asks for at least a minute.
    answer(429, { message: 'Too many requests' });
    expect(((await membershipError()) as RateLimitedError).retryAfterMs).toBe(DEFAULT_RATE_LIMIT_DELAY_MS);
  });

  it('401 is permanent: the token is bad, and the message says which permission the call needs', async () => {
    answer(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    const error = await membershipError();
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe(
      'GitHub get organization membership: HTTP 401 Bad credentials (the token is invalid, expired or revoked) (needs Members: read (classic token: read:org))',
    );
  });

  it('403 without rate-limit headers is a missing permission, named from GitHub’s headers', async () => {
    github()
      .get('/orgs/acme/memberships/ada-l')
      .reply(200, { state: 'active', role: 'member' })
      .delete('/orgs/acme/memberships/ada-l')
      .reply(
        403,
        { message: 'Resource not accessible by personal access token' },
        { 'x-accepted-github-permissions': 'members=write', 'x-accepted-oauth-scopes': 'admin:org' },
      );
    const error = await provider()
      .actions.disable_account!.execute(account, ctx())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe(
      'GitHub remove organization membership: HTTP 403 Resource not accessible by personal access token ' +
        '(GitHub accepts a token with members=write; or a classic token with scopes admin:org) ' +
        '(needs Members: write, by an organization owner (classic token: admin:org))',
    );
  });

  it('403 with x-github-sso: the token is not authorized for the organization’s SAML SSO', async () => {
    answer(
      403,
      { message: 'Resource protected by organization SAML enforcement.' },
      { 'x-github-sso': 'required; url=https://github.com/orgs/acme/sso?authorization_request=x' },
    );
    const error = await membershipError();
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/not authorized for the organization's SAML SSO/);
    expect((error as Error).message).not.toContain('authorization_request');
  });

  it('5xx is transient; no answer is transient', async () => {
    answer(502, { message: 'Server Error' });
    expect(await membershipError()).toBeInstanceOf(TransientError);
    github().get('/orgs/acme/memberships/ada-l').replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    expect(await membershipError()).toBeInstanceOf(TransientError);
  });

  it('GraphQL errors by type: RATE_LIMITED waits for the reset, NOT_FOUND and FORBIDDEN are permanent, untyped is transient', async () => {
    const reset = String(NOW.getTime() / 1000 + 300);
    github()
      .post('/graphql')
      .reply(
        200,
        { errors: [{ type: 'RATE_LIMITED', message: 'API rate limit exceeded' }] },
        { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset },
      );
    const limited = await provider()
      .resolve(subject, ctx())
      .catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect((limited as RateLimitedError).retryAfterMs).toBe(300_000);
    github()
      .post('/graphql')
      .reply(200, {
        data: { organization: null },
        errors: [{ type: 'NOT_FOUND', path: ['organization'], message: "Could not resolve to an Organization with the login of 'acme'." }],
      });
    await expect(provider().resolve(subject, ctx())).rejects.toBeInstanceOf(PermanentError);
    github()
      .post('/graphql')
      .reply(200, { data: null, errors: [{ type: 'FORBIDDEN', message: 'Resource not accessible by integration' }] });
    const forbidden = await provider()
      .resolve(subject, ctx())
      .catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(PermanentError);
    expect((forbidden as Error).message).toBe(
      'GitHub find SAML identity: GraphQL error FORBIDDEN (needs Members: read, by an organization owner (classic token: read:org))',
    );
    github()
      .post('/graphql')
      .reply(200, { data: null, errors: [{ message: 'Something went wrong while executing your query.' }] });
    await expect(provider().resolve(subject, ctx())).rejects.toBeInstanceOf(TransientError);
  });

  it('no error message carries the token, even when an answer echoes it', async () => {
    answer(401, { message: `Bad credentials ${TOKEN}` });
    const error = await membershipError();
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).not.toContain(TOKEN);
    expect((error as Error).message).toContain('Bad credentials [token]');
  });
});
