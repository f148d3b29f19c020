/**
 * The Microsoft adapter against nock on the production hosts (graph.microsoft.com over
 * https, login.microsoftonline.com): exact requests, exact bodies, error mapping, and
 * the proof that a throttled POST is not resent by the SDK.
 */
import { Client } from '@microsoft/microsoft-graph-client';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { DEFAULT_RATE_LIMIT_RETRY_AFTER_MS } from '../providers/microsoft/errors.ts';
import { microsoftModule, type MicrosoftConfig } from '../providers/microsoft/index.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';

const GRAPH = 'https://graph.microsoft.com';
const LOGIN = 'https://login.microsoftonline.com';
const SECRET = 'super-secret-client-value';
const TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOi.token-one';
const TOKEN_TWO = 'eyJ0eXAiOiJKV1QiLCJhbGciOi.token-two';
const config: MicrosoftConfig = {
  tenantId: 'contoso-tenant',
  clientId: 'client-1',
  clientSecret: SECRET,
  baseUrl: GRAPH,
};
const account: AccountRef = { id: 'u-1', userPrincipalName: 'leaver@contoso.com' };
const subject: Subject = { userName: 'leaver@contoso.com', emails: ['leaver@contoso.com'] };

function build(overrides: Partial<MicrosoftConfig> = {}): Provider {
  return microsoftModule.create({ ...config, ...overrides }, { name: 'entra', logger: silentLogger() });
}

/** The identity platform, answering exactly one client-credentials request with `token`. */
function tokenEndpoint(token = TOKEN) {
  return nock(LOGIN)
    .post('/contoso-tenant/oauth2/v2.0/token', (body: Record<string, string>) => {
      expect(body).toEqual({
        grant_type: 'client_credentials',
        client_id: 'client-1',
        client_secret: SECRET,
        scope: 'https://graph.microsoft.com/.default',
      });
      return true;
    })
    .matchHeader('content-type', /application\/x-www-form-urlencoded/)
    .reply(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
}

/** Graph, accepting only requests that carry `token` as a bearer. */
function graph(token = TOKEN) {
  return nock(GRAPH, { reqheaders: { authorization: `Bearer ${token}` } });
}

function graphError(code: string, message = 'message') {
  return { error: { code, message, innerError: { date: '2024-05-01T10:00:00', 'request-id': 'req-1' } } };
}

/** No secret or token may appear in anything an error carries. */
function expectNoSecrets(error: unknown) {
  const text = `${(error as Error)?.message} ${JSON.stringify(error)} ${String((error as Error)?.stack)}`;
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain('token-one');
  expect(text).not.toContain('token-two');
}

beforeAll(() => {
  nock.disableNetConnect();
});
afterEach(() => {
  nock.cleanAll();
});
afterAll(() => {
  nock.enableNetConnect();
});

describe('no SDK retries: the engine owns them', () => {
  for (const [status, headers] of [
    [429, { 'Retry-After': '7' }],
    [503, { 'Retry-After': '2' }],
    [504, {}],
  ] as const) {
    it(`a ${status} on POST revokeSignInSessions is sent exactly once`, async () => {
      tokenEndpoint();
      let calls = 0;
      graph()
        .post('/v1.0/users/u-1/revokeSignInSessions')
        .times(5)
        .reply(() => {
          calls += 1;
          return [status, graphError(status === 429 ? 'TooManyRequests' : 'serviceNotAvailable'), headers];
        });
      const error = await build()
        .actions.revoke_sessions!.execute(account, actionContext(subject))
        .catch((e: unknown) => e);
      expect(calls).toBe(1);
      if (status === 504) expect(error).toBeInstanceOf(TransientError);
      else {
        expect(error).toBeInstanceOf(RateLimitedError);
        expect((error as RateLimitedError).retryAfterMs).toBe(status === 429 ? 7000 : 2000);
      }
      expectNoSecrets(error);
    });
  }

  it('control: the SDK default chain (Client.init) would have resent that POST', async () => {
    let calls = 0;
    nock(GRAPH)
      .post('/v1.0/users/u-1/revokeSignInSessions')
      .times(5)
      .reply(() => {
        calls += 1;
        // Retry-After 0 keeps the RetryHandler from sleeping in this test.
        return [429, graphError('TooManyRequests'), { 'Retry-After': '0' }];
      });
    const client = Client.init({ authProvider: (done) => done(null, TOKEN) });
    await client
      .api('/users/u-1/revokeSignInSessions')
      .post({})
      .catch(() => undefined);
    expect(calls).toBe(4);
  });
});

describe('auth', () => {
  it('asks for a client-credentials token once and sends it as a bearer to Graph', async () => {
    const login = tokenEndpoint();
    const api = graph()
      .get('/v1.0/users/u-1')
      .query({ $select: 'accountEnabled' })
      .reply(200, { '@odata.context': `${GRAPH}/v1.0/$metadata#users(accountEnabled)/$entity`, accountEnabled: true })
      .patch('/v1.0/users/u-1', { accountEnabled: false })
      .reply(204)
      .get('/v1.0/users/u-1')
      .query({ $select: 'accountEnabled' })
      .reply(200, { accountEnabled: false });
    const provider = build();
    const result = await provider.actions.disable_account!.execute(account, actionContext(subject));
    expect(result.evidence).toEqual({ accountEnabledBefore: true, patched: { accountEnabled: false }, alreadyDone: false });
    expect(await provider.actions.disable_account!.verify(account, actionContext(subject))).toEqual({ accountEnabled: false });
    expect(login.isDone()).toBe(true);
    expect(api.isDone()).toBe(true);
    expectNoSecrets(result.evidence);
  });

  it('a wrong secret fails validate() with PermanentError, without the secret', async () => {
    nock(LOGIN)
      .post('/contoso-tenant/oauth2/v2.0/token')
      .reply(401, {
        error: 'invalid_client',
        error_description: 'AADSTS7000215: Invalid client secret provided.',
        error_codes: [7000215],
      });
    const error = await build().validate!({ signal: new AbortController().signal, logger: silentLogger() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toContain('invalid_client AADSTS7000215');
    expectNoSecrets(error);
  });

  it('validate() reads one user after getting a token; a 403 (no consent) is PermanentError', async () => {
    tokenEndpoint();
    graph()
      .get('/v1.0/users')
      .query({ $top: '1', $select: 'id' })
      .reply(403, graphError('Authorization_RequestDenied', 'Insufficient privileges'));
    const error = await build().validate!({ signal: new AbortController().signal, logger: silentLogger() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toContain('Authorization_RequestDenied');
  });

  it('a throttled or failing token endpoint is rate-limited or transient, not permanent', async () => {
    nock(LOGIN).post('/contoso-tenant/oauth2/v2.0/token').reply(429, { error: 'temporarily_throttled' }, { 'Retry-After': '4' });
    const throttled = await build()
      .resolve(subject, actionContext(subject))
      .catch((e: unknown) => e);
    expect(throttled).toBeInstanceOf(RateLimitedError);
    expect((throttled as RateLimitedError).retryAfterMs).toBe(4000);
    nock(LOGIN).post('/contoso-tenant/oauth2/v2.0/token').reply(500, { error: 'server_error' });
    expect(
      await build()
        .resolve(subject, actionContext(subject))
        .catch((e: unknown) => e),
    ).toBeInstanceOf(TransientError);
  });

  it('a 401 on a cached token is transient, and the next call fetches a new token', async () => {
    tokenEndpoint(TOKEN);
    const provider = build();
    graph(TOKEN).get('/v1.0/users').query(true).reply(200, { value: [] });
    await provider.validate!({ signal: new AbortController().signal, logger: silentLogger() });
    graph(TOKEN).get('/v1.0/users').query(true).reply(401, graphError('InvalidAuthenticationToken', 'Lifetime validation failed'));
    const error = await provider.validate!({ signal: new AbortController().signal, logger: silentLogger() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    const second = tokenEndpoint(TOKEN_TWO);
    graph(TOKEN_TWO).get('/v1.0/users').query(true).reply(200, { value: [] });
    await provider.validate!({ signal: new AbortController().signal, logger: silentLogger() });
    expect(second.isDone()).toBe(true);
  });

  it('never sends the token to another host named by a nextLink', async () => {
    tokenEndpoint();
    graph()
      .get('/v1.0/users/u-1/memberOf')
      .query(true)
      .reply(200, { value: [], '@odata.nextLink': 'https://evil.example.com/v1.0/users/u-1/memberOf?$skiptoken=x' });
    const evil = nock('https://evil.example.com').get(/.*/).reply(200, { value: [] });
    const error = await build()
      .actions.remove_groups!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(evil.isDone()).toBe(false);
  });
});

describe('exact requests', () => {
  it('resolve: GET by UPN, then the other emails, then $filter mail eq; 404s move on', async () => {
    tokenEndpoint();
    const api = graph()
      .get('/v1.0/users/jane%40contoso.com')
      .query({ $select: 'id,userPrincipalName,mail' })
      .reply(404, graphError('Request_ResourceNotFound'))
      .get("/v1.0/users/jane.o'neil%40contoso.com")
      .query({ $select: 'id,userPrincipalName,mail' })
      .reply(404, graphError('Request_ResourceNotFound'))
      .get('/v1.0/users')
      .query({ $filter: "mail eq 'jane@contoso.com'", $select: 'id,userPrincipalName,mail' })
      .reply(200, { value: [] })
      .get('/v1.0/users')
      .query({ $filter: "mail eq 'jane.o''neil@contoso.com'", $select: 'id,userPrincipalName,mail' })
      .reply(200, { value: [{ id: 'u-9', userPrincipalName: 'jane@contoso.onmicrosoft.com', mail: "jane.o'neil@contoso.com" }] });
    const who: Subject = { userName: 'jane@contoso.com', emails: ['JANE@contoso.com', "jane.o'neil@contoso.com"] };
    expect(await build().resolve(who, actionContext(who))).toEqual({ id: 'u-9', userPrincipalName: 'jane@contoso.onmicrosoft.com' });
    expect(api.pendingMocks()).toEqual([]);
  });

  it('remove_groups: follows nextLink and DELETEs /groups/{gid}/members/{uid}/$ref for assigned groups only', async () => {
    tokenEndpoint();
    const deleted: string[] = [];
    graph()
      .get('/v1.0/users/u-1/memberOf')
      .query({ $select: 'id,displayName,groupTypes' })
      .reply(200, {
        '@odata.context': `${GRAPH}/v1.0/$metadata#directoryObjects`,
        value: [
          { '@odata.type': '#microsoft.graph.group', id: 'g-1', displayName: 'Engineering', groupTypes: [] },
          { '@odata.type': '#microsoft.graph.group', id: 'g-2', displayName: 'Dyn', groupTypes: ['DynamicMembership'] },
          { '@odata.type': '#microsoft.graph.directoryRole', id: 'r-1', displayName: 'Helpdesk Administrator' },
        ],
        '@odata.nextLink': `${GRAPH}/v1.0/users/u-1/memberOf?$select=id,displayName,groupTypes&$skiptoken=RFNwdAIAAQ`,
      })
      .get('/v1.0/users/u-1/memberOf')
      .query({ $select: 'id,displayName,groupTypes', $skiptoken: 'RFNwdAIAAQ' })
      .reply(200, { value: [{ '@odata.type': '#microsoft.graph.group', id: 'g-3', displayName: 'Unified', groupTypes: ['Unified'] }] })
      .delete(/^\/v1\.0\/groups\/.*/)
      .times(2)
      .reply((path) => {
        deleted.push(path);
        return [204];
      });
    const result = await build().actions.remove_groups!.execute(account, actionContext(subject));
    expect(deleted).toEqual(['/v1.0/groups/g-1/members/u-1/$ref', '/v1.0/groups/g-3/members/u-1/$ref']);
    expect(result.evidence).toEqual({
      removed: [
        { id: 'g-1', displayName: 'Engineering' },
        { id: 'g-3', displayName: 'Unified' },
      ],
      alreadyGone: [],
      skipped: [{ id: 'g-2', displayName: 'Dyn', reason: 'dynamic membership rule' }],
      alreadyDone: false,
    });
  });

  it('transfer_files: resolves the manager, finds the drive, invites with write, no mail, sign-in required', async () => {
    tokenEndpoint();
    let invite: unknown;
    const api = graph()
      .get('/v1.0/users/boss%40contoso.com')
      .query({ $select: 'id,userPrincipalName,mail' })
      .reply(200, { id: 'm-1', userPrincipalName: 'boss@contoso.com', mail: 'boss@contoso.com' })
      .get('/v1.0/users/u-1/drive')
      .query({ $select: 'id' })
      .reply(200, { id: 'b!drive1' })
      .get('/v1.0/drives/b!drive1/root/permissions')
      .reply(200, { value: [{ id: 'p-owner', roles: ['owner'], grantedToV2: { user: { id: 'u-1', email: 'leaver@contoso.com' } } }] })
      .post('/v1.0/drives/b!drive1/root/invite', (body) => {
        invite = body;
        return true;
      })
      .reply(200, { value: [{ id: 'p-new', roles: ['write'], grantedToV2: { user: { id: 'm-1', email: 'boss@contoso.com' } } }] });
    const who: Subject = { ...subject, manager: { email: 'boss@contoso.com' } };
    const result = await build().actions.transfer_files!.execute(account, actionContext(who));
    expect(invite).toEqual({ recipients: [{ email: 'boss@contoso.com' }], roles: ['write'], requireSignIn: true, sendInvitation: false });
    expect(result.evidence).toEqual({
      driveId: 'b!drive1',
      grantedTo: 'boss@contoso.com',
      ownerSource: 'manager',
      roles: ['write'],
      permissionId: 'p-new',
      alreadyDone: false,
    });
    expect(api.pendingMocks()).toEqual([]);
  });

  it('delete_account: GET first, then DELETE /users/{id}; a 404 on either is already absent; verify wants 404', async () => {
    tokenEndpoint();
    graph()
      .get('/v1.0/users/u-1')
      .query({ $select: 'id' })
      .reply(200, { id: 'u-1' })
      .delete('/v1.0/users/u-1')
      .reply(404, graphError('Request_ResourceNotFound'))
      .get('/v1.0/directory/deletedItems/u-1')
      .reply(200, { '@odata.type': '#microsoft.graph.user', id: 'u-1', deletedDateTime: '2024-05-01T10:00:00Z' })
      .get('/v1.0/users/u-1')
      .query({ $select: 'id' })
      .reply(404, graphError('Request_ResourceNotFound'))
      .get('/v1.0/directory/deletedItems/u-1')
      .reply(404, graphError('Request_ResourceNotFound'))
      .get('/v1.0/users/u-1')
      .query({ $select: 'id' })
      .reply(200, { id: 'u-1' });
    const provider = build();
    expect((await provider.actions.delete_account!.execute(account, actionContext(subject))).evidence).toMatchObject({
      deleted: false,
      alreadyAbsent: true,
      seenBy: 'delete answered 404',
      deletedItems: { found: true, deletedDateTime: '2024-05-01T10:00:00Z' },
    });
    expect((await provider.actions.delete_account!.execute(account, actionContext(subject))).evidence).toMatchObject({
      alreadyAbsent: true,
      seenBy: 'read before delete',
      deletedItems: { found: false },
    });
    const error = await provider.actions.delete_account!.verify(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({ id: 'u-1', found: true });
  });

  it('revoke_sessions verify: compares whole seconds against attemptStartedAt, then wants no grant left', async () => {
    tokenEndpoint();
    graph()
      .get('/v1.0/users/u-1')
      .query({ $select: 'signInSessionsValidFromDateTime' })
      .times(2)
      .reply(200, { signInSessionsValidFromDateTime: '2024-05-01T10:00:00Z' })
      .get('/v1.0/oauth2PermissionGrants')
      .query({ $filter: "principalId eq 'u-1'" })
      .reply(200, { value: [] });
    const provider = build();
    const handler = provider.actions.revoke_sessions!;
    await handler.verify(account, actionContext(subject, { attemptStartedAt: new Date('2024-05-01T10:00:00.900Z') }));
    const error = await handler
      .verify(account, actionContext(subject, { attemptStartedAt: new Date('2024-05-01T10:00:01.000Z') }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({
      signInSessionsValidFromDateTime: '2024-05-01T10:00:00Z',
      sessionsRevokedSince: '2024-05-01T10:00:01.000Z',
    });
    // The retry must send the revoke again: the checkpoint forgets the earlier time.
    expect((error as VerificationError).checkpoint).toEqual({ sessionsRevokedSince: null });
    expect(nock.isDone()).toBe(true);
  });
});

describe('revoke_sessions: delegated permission grants', () => {
  const GRANTS = '/v1.0/oauth2PermissionGrants';
  const started = new Date('2024-05-01T10:00:00.500Z');

  it("revokes first, then lists grants by principalId eq '{id}' and DELETEs the user's own", async () => {
    tokenEndpoint();
    const order: string[] = [];
    graph()
      .post('/v1.0/users/u-1/revokeSignInSessions')
      .reply(() => {
        order.push('revoke');
        return [200, { value: true }];
      })
      .get(GRANTS)
      .query({ $filter: "principalId eq 'u-1'" })
      .reply(() => {
        order.push('list');
        return [
          200,
          {
            value: [
              {
                id: 'g-1/+',
                clientId: 'c-1',
                consentType: 'Principal',
                principalId: 'u-1',
                resourceId: 'r',
                scope: ' Mail.Read  offline_access',
              },
              // An all-users consent (principalId null) or another user's: not this user's to delete.
              { id: 'g-all', clientId: 'c-2', consentType: 'AllPrincipals', principalId: null, resourceId: 'r', scope: 'User.Read' },
              { id: 'g-other', clientId: 'c-3', consentType: 'Principal', principalId: 'u-2', resourceId: 'r', scope: 'User.Read' },
            ],
          },
        ];
      })
      .delete(/^\/v1\.0\/oauth2PermissionGrants\/.*/)
      .reply((path) => {
        order.push(`delete ${path}`);
        return [204];
      });
    const result = await build().actions.revoke_sessions!.execute(account, actionContext(subject, { attemptStartedAt: started }));
    expect(order).toEqual(['revoke', 'list', `delete ${GRANTS}/g-1%2F%2B`]);
    expect(result.evidence).toEqual({
      revokeSignInSessions: 'sent',
      sessionsRevokedSince: started.toISOString(),
      answer: true,
      removedGrants: [{ id: 'g-1/+', clientId: 'c-1', scopes: ['Mail.Read', 'offline_access'] }],
      removedGrantCount: 1,
      alreadyGoneGrants: [],
      alreadyDone: false,
    });
    expect(nock.isDone()).toBe(true);
  });

  it('a failing grant DELETE is transient with a checkpoint; the retry does not re-send the revoke', async () => {
    tokenEndpoint();
    graph()
      .post('/v1.0/users/u-1/revokeSignInSessions')
      .reply(200, { value: true })
      .get(GRANTS)
      .query({ $filter: "principalId eq 'u-1'" })
      .reply(200, {
        value: [
          { id: 'g-1', clientId: 'c-1', principalId: 'u-1', scope: 'Mail.Read' },
          { id: 'g-2', clientId: 'c-2', principalId: 'u-1', scope: 'Files.Read' },
        ],
      })
      .delete(`${GRANTS}/g-1`)
      .reply(204)
      .delete(`${GRANTS}/g-2`)
      .reply(503, graphError('serviceNotAvailable'));
    const provider = build();
    const handler = provider.actions.revoke_sessions!;
    const error = await handler.execute(account, actionContext(subject, { attemptStartedAt: started })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    const checkpoint = (error as TransientError).checkpoint;
    expect(checkpoint).toEqual({
      sessionsRevokedSince: started.toISOString(),
      removedGrants: [{ id: 'g-1', clientId: 'c-1', scopes: ['Mail.Read'] }],
    });
    expect(nock.isDone()).toBe(true);

    // The retry: no POST revokeSignInSessions is mocked, so sending one would fail the test.
    const later = new Date('2024-05-01T10:05:00.000Z');
    graph()
      .get(GRANTS)
      .query({ $filter: "principalId eq 'u-1'" })
      .reply(200, { value: [{ id: 'g-2', clientId: 'c-2', principalId: 'u-1', scope: 'Files.Read' }] })
      .delete(`${GRANTS}/g-2`)
      .reply(404, graphError('Request_ResourceNotFound'))
      .get('/v1.0/users/u-1')
      .query({ $select: 'signInSessionsValidFromDateTime' })
      .reply(200, { signInSessionsValidFromDateTime: '2024-05-01T10:00:00Z' })
      .get(GRANTS)
      .query({ $filter: "principalId eq 'u-1'" })
      .reply(200, { value: [] });
    const retry = actionContext(subject, { attemptStartedAt: later, attempt: 2, checkpoint: checkpoint ?? null });
    const result = await handler.execute(account, retry);
    expect(result.evidence).toMatchObject({
      revokeSignInSessions: 'sent by an earlier attempt',
      sessionsRevokedSince: started.toISOString(),
      answer: null,
      removedGrants: [{ id: 'g-1', clientId: 'c-1', scopes: ['Mail.Read'] }],
      alreadyGoneGrants: [{ id: 'g-2', clientId: 'c-2', scopes: ['Files.Read'] }],
    });
    // Verify compares against the earlier revoke, not this attempt's start.
    await expect(handler.verify(account, retry)).resolves.toMatchObject({
      remainingGrants: 0,
      sessionsRevokedSince: started.toISOString(),
    });
    expect(nock.isDone()).toBe(true);
  });

  it('verify fails while a grant remains, and a failed grant list in verify keeps the revoke time', async () => {
    tokenEndpoint();
    graph()
      .get('/v1.0/users/u-1')
      .query({ $select: 'signInSessionsValidFromDateTime' })
      .times(2)
      .reply(200, { signInSessionsValidFromDateTime: '2024-05-01T10:00:01Z' })
      .get(GRANTS)
      .query({ $filter: "principalId eq 'u-1'" })
      .reply(200, { value: [{ id: 'g-9', clientId: 'c-9', principalId: 'u-1', scope: 'Mail.Send' }] })
      .get(GRANTS)
      .query({ $filter: "principalId eq 'u-1'" })
      .reply(429, graphError('TooManyRequests'), { 'Retry-After': '3' });
    const handler = build().actions.revoke_sessions!;
    const ctx = actionContext(subject, { attemptStartedAt: started });
    const remaining = await handler.verify(account, ctx).catch((e: unknown) => e);
    expect(remaining).toBeInstanceOf(VerificationError);
    expect((remaining as VerificationError).observed).toEqual({
      signInSessionsValidFromDateTime: '2024-05-01T10:00:01Z',
      sessionsRevokedSince: started.toISOString(),
      remainingGrants: [{ id: 'g-9', clientId: 'c-9', scopes: ['Mail.Send'] }],
    });
    const throttled = await handler.verify(account, ctx).catch((e: unknown) => e);
    expect(throttled).toBeInstanceOf(RateLimitedError);
    expect((throttled as RateLimitedError).checkpoint).toEqual({ sessionsRevokedSince: started.toISOString() });
    expect(nock.isDone()).toBe(true);
  });
});

describe('error mapping', () => {
  it('a Graph request with no answer within requestTimeoutMs is a TransientError', async () => {
    tokenEndpoint();
    graph().get('/v1.0/users/u-1').query({ $select: 'accountEnabled' }).delay(2000).reply(200, { accountEnabled: true });
    const error = await build({ requestTimeoutMs: 100 })
      .actions.disable_account!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    // The SDK rethrows fetch's TimeoutError as a GraphError of its own, named Error.
    expect((error as Error).message).toBe('Microsoft Graph GET /users/u-1: no answer (Error)');
  });

  const cases: Array<{
    name: string;
    status: number;
    headers?: Record<string, string>;
    body?: unknown;
    expected: unknown;
    retryAfterMs?: number;
  }> = [
    { name: '429 with Retry-After', status: 429, headers: { 'Retry-After': '5' }, expected: RateLimitedError, retryAfterMs: 5000 },
    { name: '429 without Retry-After', status: 429, expected: RateLimitedError, retryAfterMs: DEFAULT_RATE_LIMIT_RETRY_AFTER_MS },
    {
      name: '429 with a non-JSON body (the SDK would drop its headers)',
      status: 429,
      headers: { 'Retry-After': '9', 'Content-Type': 'text/html' },
      body: '<html>slow down</html>',
      expected: RateLimitedError,
      retryAfterMs: 9000,
    },
    { name: '503 with Retry-After', status: 503, headers: { 'Retry-After': '3' }, expected: RateLimitedError, retryAfterMs: 3000 },
    { name: '503 without Retry-After', status: 503, expected: TransientError },
    { name: '500', status: 500, expected: TransientError },
    { name: '502', status: 502, expected: TransientError },
    { name: '401 on a fresh token', status: 401, expected: PermanentError },
    { name: '403', status: 403, expected: PermanentError },
    { name: '400', status: 400, expected: PermanentError },
    { name: '404 where an answer is required', status: 404, expected: PermanentError },
    { name: '409', status: 409, expected: PermanentError },
  ];
  for (const c of cases) {
    it(`${c.name} -> ${(c.expected as { name: string }).name}`, async () => {
      tokenEndpoint();
      graph()
        .get('/v1.0/users/u-1')
        .query({ $select: 'accountEnabled' })
        .reply(c.status, (c.body ?? graphError('someCode')) as nock.Body, c.headers);
      const error = await build()
        .actions.disable_account!.execute(account, actionContext(subject))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(c.expected as new (...args: never[]) => Error);
      if (c.retryAfterMs !== undefined) expect((error as RateLimitedError).retryAfterMs).toBe(c.retryAfterMs);
      expectNoSecrets(error);
    });
  }

  it('Retry-After as an HTTP date', async () => {
    tokenEndpoint();
    const at = new Date(Date.now() + 30_000).toUTCString();
    graph().get('/v1.0/users/u-1').query(true).reply(429, graphError('TooManyRequests'), { 'Retry-After': at });
    const error = await build()
      .actions.disable_account!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(28_000);
    expect((error as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('a network failure is TransientError', async () => {
    tokenEndpoint();
    graph().get('/v1.0/users/u-1').query(true).replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    const error = await build()
      .actions.disable_account!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expectNoSecrets(error);
  });
});

describe('remove_mfa', () => {
  const methods = (value: Array<Record<string, unknown>>) => ({ '@odata.context': `${GRAPH}/v1.0/$metadata#methods`, value });
  const PASSWORD = { '@odata.type': '#microsoft.graph.passwordAuthenticationMethod', id: '28c10230-6103-485e-b985-444c60001490' };

  it('DELETEs each method through its type endpoint, alternateMobile before mobile, the refused default last', async () => {
    tokenEndpoint();
    const deleted: string[] = [];
    graph()
      .get('/v1.0/users/u-1/authentication/methods')
      .reply(
        200,
        methods([
          PASSWORD,
          { '@odata.type': '#microsoft.graph.microsoftAuthenticatorAuthenticationMethod', id: 'ma-1', displayName: 'iPhone' },
          {
            '@odata.type': '#microsoft.graph.phoneAuthenticationMethod',
            id: '3179e48a-750b-4051-897c-87b9720928f7',
            phoneNumber: '+1 555',
          },
          {
            '@odata.type': '#microsoft.graph.phoneAuthenticationMethod',
            id: 'b6332ec1-7057-4abe-9331-3d72feddfe41',
            phoneNumber: '+1 556',
          },
          { '@odata.type': '#microsoft.graph.fido2AuthenticationMethod', id: 'f-1' },
          { '@odata.type': '#microsoft.graph.softwareOathAuthenticationMethod', id: 'o-1' },
          { '@odata.type': '#microsoft.graph.emailAuthenticationMethod', id: 'e-1' },
          { '@odata.type': '#microsoft.graph.windowsHelloForBusinessAuthenticationMethod', id: 'w-1' },
          { '@odata.type': '#microsoft.graph.temporaryAccessPassAuthenticationMethod', id: 't-1' },
          { '@odata.type': '#microsoft.graph.platformCredentialAuthenticationMethod', id: 'p-1' },
        ]),
      )
      // The Authenticator app is the default: refused while the others remain.
      .delete('/v1.0/users/u-1/authentication/microsoftAuthenticatorMethods/ma-1')
      .reply(400, graphError('badRequest', 'Cannot delete default method with other methods configured.'))
      .delete(/^\/v1\.0\/users\/u-1\/authentication\/.*/)
      .times(8)
      .reply((path) => {
        deleted.push(path);
        return [204];
      });
    const result = await build().actions.remove_mfa!.execute(account, actionContext(subject));
    const base = '/v1.0/users/u-1/authentication';
    expect(deleted).toEqual([
      `${base}/phoneMethods/b6332ec1-7057-4abe-9331-3d72feddfe41`,
      `${base}/phoneMethods/3179e48a-750b-4051-897c-87b9720928f7`,
      `${base}/fido2Methods/f-1`,
      `${base}/softwareOathMethods/o-1`,
      `${base}/emailMethods/e-1`,
      `${base}/windowsHelloForBusinessMethods/w-1`,
      `${base}/temporaryAccessPassMethods/t-1`,
      `${base}/microsoftAuthenticatorMethods/ma-1`,
    ]);
    expect(result.evidence.removed).toHaveLength(8);
    expect(result.evidence.unsupported).toEqual([{ type: 'platformCredentialAuthenticationMethod', id: 'p-1' }]);
    // Phone numbers and device names are personal data: only types and ids are kept.
    expect(JSON.stringify(result.evidence)).not.toContain('+1 55');
    expect(JSON.stringify(result.evidence)).not.toContain('iPhone');
    expect(nock.isDone()).toBe(true);
  });

  it('a refusal on every remaining method is a PermanentError carrying what was removed; a 404 is already gone', async () => {
    tokenEndpoint();
    graph()
      .get('/v1.0/users/u-1/authentication/methods')
      .reply(
        200,
        methods([
          PASSWORD,
          { '@odata.type': '#microsoft.graph.emailAuthenticationMethod', id: 'e-1' },
          { '@odata.type': '#microsoft.graph.fido2AuthenticationMethod', id: 'f-1' },
        ]),
      )
      .delete('/v1.0/users/u-1/authentication/emailMethods/e-1')
      .reply(404, graphError('itemNotFound'))
      // Refused again in the second pass (the 404 counted as progress), then given up.
      .delete('/v1.0/users/u-1/authentication/fido2Methods/f-1')
      .times(2)
      .reply(403, graphError('accessDenied', 'Insufficient privileges'));
    const error = await build()
      .actions.remove_mfa!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).checkpoint).toEqual({ removedMethods: [] });
    expect(nock.isDone()).toBe(true);
  });

  it('verify passes only when the password method alone remains', async () => {
    tokenEndpoint();
    graph()
      .get('/v1.0/users/u-1/authentication/methods')
      .reply(200, methods([PASSWORD, { '@odata.type': '#microsoft.graph.emailAuthenticationMethod', id: 'e-1' }]))
      .get('/v1.0/users/u-1/authentication/methods')
      .reply(200, methods([PASSWORD]));
    const provider = build();
    const error = await provider.actions.remove_mfa!.verify(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({ remainingMethods: [{ type: 'emailAuthenticationMethod', id: 'e-1' }] });
    expect(await provider.actions.remove_mfa!.verify(account, actionContext(subject))).toEqual({
      remainingMethods: [{ type: 'passwordAuthenticationMethod', id: '28c10230-6103-485e-b985-444c60001490' }],
      onlyPassword: true,
    });
  });
});

describe('stop_mail_forwarding', () => {
  const RULES = '/v1.0/users/u-1/mailFolders/inbox/messageRules';
  const to = (address: string) => [{ emailAddress: { name: address, address } }];

  it('lists the inbox rules and DELETEs those that forward or redirect, by encoded id', async () => {
    tokenEndpoint();
    const deleted: string[] = [];
    graph()
      .get(RULES)
      .reply(200, {
        value: [
          { id: 'AQAAAJ5dZ/q=', displayName: 'Home', actions: { forwardTo: to('me@example.net') } },
          { id: 'r-2', displayName: 'Attach', actions: { forwardAsAttachmentTo: to('x@example.net') } },
          { id: 'r-3', displayName: 'Redirect', actions: { redirectTo: to('y@example.net') } },
          { id: 'r-4', displayName: 'File', actions: { moveToFolder: 'AAMk', forwardTo: [] } },
        ],
      })
      .delete(/^\/v1\.0\/users\/u-1\/mailFolders\/inbox\/messageRules\/.*/)
      .times(3)
      .reply((path) => {
        deleted.push(path);
        return [204];
      });
    const result = await build().actions.stop_mail_forwarding!.execute(account, actionContext(subject));
    expect(deleted).toEqual([`${RULES}/AQAAAJ5dZ%2Fq%3D`, `${RULES}/r-2`, `${RULES}/r-3`]);
    expect(result.evidence).toMatchObject({
      rules: 'forwarding',
      removed: [
        { id: 'AQAAAJ5dZ/q=', displayName: 'Home', forwardsTo: ['me@example.net'] },
        { id: 'r-2', displayName: 'Attach', forwardsTo: ['x@example.net'] },
        { id: 'r-3', displayName: 'Redirect', forwardsTo: ['y@example.net'] },
      ],
      kept: [{ id: 'r-4', displayName: 'File' }],
      alreadyDone: false,
    });
    expect(nock.isDone()).toBe(true);
  });

  it('a 404 on the list (no mailbox) is skipped; a 404 on a DELETE is already gone', async () => {
    tokenEndpoint();
    graph()
      .get(RULES)
      .reply(404, graphError('MailboxNotEnabledForRESTAPI'))
      .get(RULES)
      .reply(200, { value: [{ id: 'r-1', actions: { forwardTo: to('me@example.net') } }] })
      .delete(`${RULES}/r-1`)
      .reply(404, graphError('ErrorItemNotFound'));
    const provider = build();
    expect((await provider.actions.stop_mail_forwarding!.execute(account, actionContext(subject))).skipped).toBeTypeOf('string');
    const again = await provider.actions.stop_mail_forwarding!.execute(account, actionContext(subject));
    expect(again.evidence).toMatchObject({ removed: [], alreadyGone: [{ id: 'r-1' }], alreadyDone: true });
    expect(nock.isDone()).toBe(true);
  });

  it('verify fails while a forwarding rule remains and is typed on a 403', async () => {
    tokenEndpoint();
    graph()
      .get(RULES)
      .reply(200, { value: [{ id: 'r-1', displayName: 'Home', actions: { redirectTo: to('me@example.net') } }] })
      .get(RULES)
      .reply(403, graphError('ErrorAccessDenied', 'Access is denied.'));
    const provider = build();
    const error = await provider.actions.stop_mail_forwarding!.verify(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({
      remainingRules: [{ id: 'r-1', displayName: 'Home', forwardsTo: ['me@example.net'] }],
    });
    await expect(provider.actions.stop_mail_forwarding!.verify(account, actionContext(subject))).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('remove_admin_roles', () => {
  const PATH = '/v1.0/roleManagement/directory/roleAssignments';

  it("lists by principalId eq '{id}' with the role definition and DELETEs each assignment of that principal", async () => {
    tokenEndpoint();
    const deleted: string[] = [];
    graph()
      .get(PATH)
      .query({ $filter: "principalId eq 'u-1'", $expand: 'roleDefinition' })
      .reply(200, {
        value: [
          {
            id: 'lAPpYvVpN0KRkAEhdxReEJC2sEqbR_9Hr48lds9SGHI-1',
            principalId: 'u-1',
            roleDefinitionId: '62e90394-69f5-4237-9190-012177145e10',
            directoryScopeId: '/',
            roleDefinition: { displayName: 'Global Administrator' },
          },
          // Not the user's: never deleted, whatever the server answered.
          { id: 'other', principalId: 'u-2', roleDefinitionId: 'x', directoryScopeId: '/' },
        ],
      })
      .delete(/^\/v1\.0\/roleManagement\/directory\/roleAssignments\/.*/)
      .reply((path) => {
        deleted.push(path);
        return [204];
      });
    const result = await build().actions.remove_admin_roles!.execute(account, actionContext(subject));
    expect(deleted).toEqual([`${PATH}/lAPpYvVpN0KRkAEhdxReEJC2sEqbR_9Hr48lds9SGHI-1`]);
    expect(result.evidence).toEqual({
      removed: [
        {
          id: 'lAPpYvVpN0KRkAEhdxReEJC2sEqbR_9Hr48lds9SGHI-1',
          roleDefinitionId: '62e90394-69f5-4237-9190-012177145e10',
          role: 'Global Administrator',
          directoryScopeId: '/',
        },
      ],
      alreadyGone: [],
      alreadyDone: false,
    });
    expect(nock.isDone()).toBe(true);
  });

  it('quotes the id as an OData literal; verify fails while an assignment remains', async () => {
    tokenEndpoint();
    const odd: AccountRef = { id: "o'brien", userPrincipalName: null };
    graph()
      .get(PATH)
      .query({ $filter: "principalId eq 'o''brien'", $expand: 'roleDefinition' })
      .reply(200, { value: [{ id: 'a-1', principalId: "o'brien", roleDefinitionId: 'r' }] });
    const error = await build()
      .actions.remove_admin_roles!.verify(odd, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({
      remainingRoleAssignments: [{ id: 'a-1', roleDefinitionId: 'r', role: null, directoryScopeId: null }],
    });
  });
});

describe('reset_password', () => {
  it('PATCHes a fresh random passwordProfile with a forced change; the password is in no evidence', async () => {
    tokenEndpoint();
    const sent: Array<{ password: string; forceChangePasswordNextSignIn: boolean }> = [];
    graph()
      .patch('/v1.0/users/u-1', (body: { passwordProfile?: { password: string; forceChangePasswordNextSignIn: boolean } }) => {
        expect(Object.keys(body)).toEqual(['passwordProfile']);
        sent.push(body.passwordProfile!);
        return true;
      })
      .times(2)
      .reply(204);
    const handler = build().actions.reset_password!;
    const first = await handler.execute(account, actionContext(subject));
    await handler.execute(account, actionContext(subject));
    expect(sent).toHaveLength(2);
    for (const profile of sent) {
      expect(profile.forceChangePasswordNextSignIn).toBe(true);
      expect(profile.password).toHaveLength(32);
      for (const re of [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/]) expect(profile.password).toMatch(re);
      expect(JSON.stringify(first.evidence)).not.toContain(profile.password);
    }
    expect(sent[0]!.password).not.toBe(sent[1]!.password);
    expect(first.evidence).toMatchObject({ passwordReset: 'random, not kept', forceChangePasswordNextSignIn: true, alreadyDone: false });
    expect(nock.isDone()).toBe(true);
  });

  it('a 403 (no User Administrator role) is permanent and does not carry the password', async () => {
    tokenEndpoint();
    let password = '';
    graph()
      .patch('/v1.0/users/u-1', (body: { passwordProfile: { password: string } }) => {
        password = body.passwordProfile.password;
        return true;
      })
      .reply(403, graphError('Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'));
    const error = await build()
      .actions.reset_password!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(password).not.toBe('');
    expect(`${(error as Error).message} ${JSON.stringify(error)}`).not.toContain(password);
  });

  it('verify selects lastPasswordChangeDateTime and accepts it back to a minute before the attempt', async () => {
    tokenEndpoint();
    graph()
      .get('/v1.0/users/u-1')
      .query({ $select: 'lastPasswordChangeDateTime' })
      .times(2)
      .reply(200, { lastPasswordChangeDateTime: '2024-05-01T10:00:00Z' });
    const handler = build().actions.reset_password!;
    await expect(
      handler.verify(account, actionContext(subject, { attemptStartedAt: new Date('2024-05-01T10:01:00.000Z') })),
    ).resolves.toEqual({ lastPasswordChangeDateTime: '2024-05-01T10:00:00Z', notBefore: '2024-05-01T10:00:00.000Z' });
    const error = await handler
      .verify(account, actionContext(subject, { attemptStartedAt: new Date('2024-05-01T10:01:00.001Z') }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({
      lastPasswordChangeDateTime: '2024-05-01T10:00:00Z',
      notBefore: '2024-05-01T10:00:00.001Z',
    });
  });
});
