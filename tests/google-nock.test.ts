/**
 * The Google adapter's exact wire traffic, with nock standing in for Google: paths,
 * query strings, bodies and credentials of every request, how many requests a failure
 * costs (the SDK must not retry), and the service-account delegation flow.
 */
import { createPublicKey, generateKeyPairSync, verify as verifySignature } from 'node:crypto';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { createGoogleProvider } from '../providers/google/adapter.ts';
import { DEFAULT_GOOGLE_SCOPES, googleConfigSchema, type GoogleConfigInput } from '../providers/google/config.ts';
import { PermanentError, RateLimitedError, TransientError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';

const API = 'https://admin.googleapis.com';
const D = '/admin/directory/v1';
const T = '/admin/datatransfer/v1';
const TOKEN = 'ya29.static-test-token';
const BEARER = `Bearer ${TOKEN}`;
const account: AccountRef = { id: '100000000000000000123', primaryEmail: 'leaver@example.com', suspended: false };
const subject: Subject = { userName: 'leaver@example.com', emails: ['leaver@example.com'] };
const signal = () => new AbortController().signal;

function make(overrides: Partial<GoogleConfigInput> = {}): Provider {
  const config = googleConfigSchema.parse({ adminSubject: 'admin@example.com', accessToken: TOKEN, ...overrides });
  return createGoogleProvider(config, { name: 'google-nock', logger: silentLogger() });
}

function googleError(code: number, reason: string, message: string, status?: string) {
  return { error: { code, message, errors: [{ message, domain: 'global', reason }], ...(status ? { status } : {}) } };
}

/** An interceptor that answers `times` times and counts what it got. */
function counting(interceptor: nock.Interceptor, reply: [number, unknown, Record<string, string>?]) {
  const seen = { count: 0 };
  interceptor.times(5).reply(() => {
    seen.count += 1;
    return reply;
  });
  return seen;
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

describe('requests on the wire', () => {
  it('resolve: users.get by userName (404), then by email', async () => {
    const scope = nock(API, { reqheaders: { authorization: BEARER } })
      .get(`${D}/users/first%40example.com`)
      .reply(404, googleError(404, 'notFound', 'Resource Not Found: userKey'))
      .get(`${D}/users/second%40example.com`)
      .reply(200, { id: '42', primaryEmail: 'second@example.com', suspended: true });
    const found = await make().resolve(
      { userName: 'first@example.com', emails: ['first@example.com', 'second@example.com'] },
      actionContext(subject),
    );
    expect(found).toEqual({ id: '42', primaryEmail: 'second@example.com', suspended: true });
    scope.done();
  });

  it('validate: users.list for the customer, one result', async () => {
    const scope = nock(API, { reqheaders: { authorization: BEARER } })
      .get(`${D}/users`)
      .query({ customer: 'C01abc', maxResults: '1' })
      .reply(200, { users: [] });
    await make({ customer: 'C01abc' }).validate!({ signal: signal(), logger: silentLogger() });
    scope.done();
  });

  it('disable_account: reads, then PUT users/{id} with exactly {"suspended":true}', async () => {
    let body: unknown;
    const scope = nock(API, { reqheaders: { authorization: BEARER } })
      .get(`${D}/users/${account.id}`)
      .reply(200, { id: account.id, suspended: false })
      .put(`${D}/users/${account.id}`, (b) => {
        body = b;
        return true;
      })
      .reply(200, { id: account.id, suspended: true });
    const result = await make().actions.disable_account!.execute(account, actionContext(subject));
    expect(body).toEqual({ suspended: true });
    expect(result.evidence).toEqual({ suspended: true, alreadyDone: false });
    scope.done();
  });

  it('disable_account: an already suspended user gets no write', async () => {
    const scope = nock(API).get(`${D}/users/${account.id}`).reply(200, { id: account.id, suspended: true });
    const result = await make().actions.disable_account!.execute(account, actionContext(subject));
    expect(result.evidence.alreadyDone).toBe(true);
    scope.done();
  });

  it('revoke_sessions: signOut, tokens.list/delete, asps.list/delete', async () => {
    const scope = nock(API, { reqheaders: { authorization: BEARER } })
      .post(`${D}/users/${account.id}/signOut`)
      .reply(204)
      .get(`${D}/users/${account.id}/tokens`)
      .reply(200, { items: [{ clientId: '111.apps.googleusercontent.com' }, { clientId: '222.apps.googleusercontent.com' }] })
      .delete(`${D}/users/${account.id}/tokens/111.apps.googleusercontent.com`)
      .reply(204)
      .delete(`${D}/users/${account.id}/tokens/222.apps.googleusercontent.com`)
      // Already gone (revoked by signOut or by the user): the wanted state.
      .reply(404, googleError(404, 'notFound', 'Resource Not Found: clientId'))
      .get(`${D}/users/${account.id}/asps`)
      .reply(200, { items: [{ codeId: 7, name: 'Thunderbird' }] })
      .delete(`${D}/users/${account.id}/asps/7`)
      .reply(204);
    const result = await make().actions.revoke_sessions!.execute(account, actionContext(subject));
    expect(result.evidence).toEqual({
      signOut: 'sent',
      oauthClientsRevoked: ['111.apps.googleusercontent.com', '222.apps.googleusercontent.com'],
      appPasswordsRevoked: [7],
      alreadyDone: false,
    });
    scope.done();
  });

  it('revoke_sessions: a 429 after signOut hands signedOut to the retry, which does not sign out again', async () => {
    const signOuts = counting(nock(API).post(`${D}/users/${account.id}/signOut`), [204, '']);
    nock(API)
      .get(`${D}/users/${account.id}/tokens`)
      .reply(429, googleError(429, 'rateLimitExceeded', 'Rate Limit Exceeded'))
      .get(`${D}/users/${account.id}/tokens`)
      .reply(200, { items: [{ clientId: '111.apps.googleusercontent.com' }] })
      .delete(`${D}/users/${account.id}/tokens/111.apps.googleusercontent.com`)
      .reply(204)
      // App passwords are listed beside the tokens: by each attempt.
      .get(`${D}/users/${account.id}/asps`)
      .times(2)
      .reply(200, {});
    const now = new Date('2025-03-01T12:00:00.000Z');
    const error = await make()
      .actions.revoke_sessions!.execute(account, actionContext(subject, { now: () => now }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    const checkpoint = (error as RateLimitedError).checkpoint;
    expect(checkpoint).toEqual({ signedOut: true, signedOutAt: now.toISOString() });
    const result = await make().actions.revoke_sessions!.execute(account, actionContext(subject, { checkpoint: checkpoint! }));
    expect(signOuts.count).toBe(1);
    expect(result.evidence).toEqual({
      signOut: `sent by an earlier attempt at ${now.toISOString()}`,
      oauthClientsRevoked: ['111.apps.googleusercontent.com'],
      appPasswordsRevoked: [],
      alreadyDone: false,
    });
  });

  it('remove_groups: groups.list by userKey across pages, then members.delete by ids', async () => {
    const scope = nock(API, { reqheaders: { authorization: BEARER } })
      .get(`${D}/groups`)
      .query({ userKey: account.id, maxResults: '200' })
      .reply(200, { groups: [{ id: 'g1', email: 'one@example.com' }], nextPageToken: 'page2' })
      .get(`${D}/groups`)
      .query({ userKey: account.id, maxResults: '200', pageToken: 'page2' })
      .reply(200, { groups: [{ id: 'g2', email: 'two@example.com' }] })
      .delete(`${D}/groups/g1/members/${account.id}`)
      .reply(204)
      .delete(`${D}/groups/g2/members/${account.id}`)
      .reply(204);
    const result = await make().actions.remove_groups!.execute(account, actionContext(subject));
    expect(result.evidence).toEqual({ groupsRemoved: ['one@example.com', 'two@example.com'], alreadyDone: false });
    scope.done();
  });

  it('transfer_files: manager id from users.get, transfers.insert with numeric ids, then transfers.get', async () => {
    let inserted: unknown;
    const scope = nock(API, { reqheaders: { authorization: BEARER } })
      .get(`${D}/users/boss%40example.com`)
      .reply(200, { id: '900', primaryEmail: 'boss@example.com', suspended: false })
      .get(`${T}/transfers`)
      .query({ oldOwnerUserId: account.id })
      .reply(200, {})
      .post(`${T}/transfers`, (b) => {
        inserted = b;
        return true;
      })
      .reply(200, { id: 'T-1', overallTransferStatusCode: 'inProgress' })
      .get(`${T}/transfers/T-1`)
      .reply(200, { id: 'T-1', overallTransferStatusCode: 'completed', oldOwnerUserId: account.id, newOwnerUserId: '900' });
    const provider = make();
    const withManager = { ...subject, manager: { email: 'boss@example.com' } };
    const first = await provider.actions.transfer_files!.execute(account, actionContext(withManager));
    expect(inserted).toEqual({
      oldOwnerUserId: account.id,
      newOwnerUserId: '900',
      applicationDataTransfers: [
        { applicationId: '55656082996', applicationTransferParams: [{ key: 'PRIVACY_LEVEL', value: ['PRIVATE', 'SHARED'] }] },
        { applicationId: '435070579839', applicationTransferParams: [{ key: 'RELEASE_RESOURCES', value: ['TRUE'] }] },
      ],
    });
    expect(first.inProgress).toMatchObject({ checkAfterMs: 1000, checkpoint: { transferId: 'T-1', polls: 0 } });
    const done = await provider.actions.transfer_files!.execute(
      account,
      actionContext(withManager, { checkpoint: first.inProgress!.checkpoint }),
    );
    expect(done.inProgress).toBeUndefined();
    expect(done.evidence).toMatchObject({ transferId: 'T-1', overallTransferStatusCode: 'completed', polls: 1 });
    scope.done();
  });

  it('delete_account: users.get first, then DELETE users/{id}; a user already gone is not deleted again', async () => {
    const notFound = googleError(404, 'notFound', 'Resource Not Found: userKey');
    const scope = nock(API, { reqheaders: { authorization: BEARER } })
      .get(`${D}/users/${account.id}`)
      .reply(200, { id: account.id, primaryEmail: account.primaryEmail, suspended: true })
      .delete(`${D}/users/${account.id}`)
      .reply(204)
      .get(`${D}/users/${account.id}`)
      .reply(404, notFound);
    const provider = make();
    expect((await provider.actions.delete_account!.execute(account, actionContext(subject))).evidence).toMatchObject({
      deleted: true,
      deletedByAttempt: 1,
      alreadyDone: false,
    });
    expect((await provider.actions.delete_account!.execute(account, actionContext(subject, { attempt: 2 }))).evidence).toEqual({
      userId: account.id,
      deleted: false,
      alreadyAbsent: true,
      alreadyDone: true,
      confirmedAbsentByAttempt: 2,
      seenBy: 'read before delete',
    });
    scope.done();
  });

  it('delete_account: a DELETE answered 404 (deleted between the read and the write) is already absent', async () => {
    const scope = nock(API, { reqheaders: { authorization: BEARER } })
      .get(`${D}/users/${account.id}`)
      .reply(200, { id: account.id, primaryEmail: account.primaryEmail, suspended: true })
      .delete(`${D}/users/${account.id}`)
      .reply(404, googleError(404, 'notFound', 'Resource Not Found: userKey'));
    const evidence = (await make().actions.delete_account!.execute(account, actionContext(subject))).evidence;
    expect(evidence).toMatchObject({ deleted: false, alreadyAbsent: true, seenBy: 'delete answered 404' });
    scope.done();
  });
});

describe('failures: one request each, typed for the engine', () => {
  const get = () => nock(API).get(`${D}/users/${account.id}`);
  const run = (provider = make()) => provider.actions.disable_account!.verify(account, actionContext(subject)).catch((e: unknown) => e);

  it('403 userRateLimitExceeded is RateLimitedError (default delay), not PermanentError', async () => {
    const seen = counting(get(), [403, googleError(403, 'userRateLimitExceeded', 'User Rate Limit Exceeded')]);
    const error = await run();
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(1000);
    expect(seen.count).toBe(1);
  });

  it('403 quotaExceeded honours Retry-After; the default delay is configurable', async () => {
    counting(get(), [403, googleError(403, 'quotaExceeded', 'Quota exceeded'), { 'Retry-After': '7' }]);
    expect(((await run()) as RateLimitedError).retryAfterMs).toBe(7000);
    nock.cleanAll();
    counting(get(), [403, googleError(403, 'rateLimitExceeded', 'Rate Limit Exceeded')]);
    expect(((await run(make({ rateLimitDelayMs: 5000 }))) as RateLimitedError).retryAfterMs).toBe(5000);
  });

  it('429 RESOURCE_EXHAUSTED is RateLimitedError after one request (gaxios would retry it)', async () => {
    const seen = counting(get(), [429, googleError(429, 'rateLimitExceeded', 'Too many', 'RESOURCE_EXHAUSTED')]);
    expect(await run()).toBeInstanceOf(RateLimitedError);
    expect(seen.count).toBe(1);
  });

  it('503 on a GET is TransientError after one request (gaxios would retry a GET 3 times)', async () => {
    const seen = counting(get(), [503, googleError(503, 'backendError', 'Backend Error', 'UNAVAILABLE')]);
    expect(await run()).toBeInstanceOf(TransientError);
    expect(seen.count).toBe(1);
  });

  it('500 on the signOut POST is TransientError and the POST is sent once', async () => {
    const seen = counting(nock(API).post(`${D}/users/${account.id}/signOut`), [500, googleError(500, 'backendError', 'x')]);
    const error = await make()
      .actions.revoke_sessions!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(seen.count).toBe(1);
  });

  it('a connection reset is TransientError after one attempt (gaxios would retry it twice)', async () => {
    const seen = { count: 0 };
    get()
      .times(5)
      .reply((_uri, _body, callback) => {
        seen.count += 1;
        callback(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), [0, '']);
      });
    const error = await run();
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/no answer/);
    expect(seen.count).toBe(1);
  });

  it('401 and a plain 403 are PermanentError; the token is never in the error', async () => {
    counting(get(), [401, googleError(401, 'authError', 'Invalid Credentials', 'UNAUTHENTICATED')]);
    const unauthorized = await run();
    expect(unauthorized).toBeInstanceOf(PermanentError);
    nock.cleanAll();
    counting(get(), [403, googleError(403, 'forbidden', 'Not Authorized to access this resource/api', 'PERMISSION_DENIED')]);
    const forbidden = await run();
    expect(forbidden).toBeInstanceOf(PermanentError);
    expect((forbidden as Error).message).toContain('Not Authorized to access this resource/api');
    for (const error of [unauthorized, forbidden] as Error[]) {
      expect(`${error.message} ${error.stack} ${JSON.stringify(error)}`).not.toContain(TOKEN);
      expect(error.cause).toBeUndefined();
    }
  });

  it('400 on a write is PermanentError', async () => {
    nock(API).get(`${D}/users/${account.id}`).reply(200, { id: account.id, suspended: false });
    const seen = counting(nock(API).put(`${D}/users/${account.id}`), [400, googleError(400, 'invalid', 'Invalid Input')]);
    const error = await make()
      .actions.disable_account!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(seen.count).toBe(1);
  });

  it('a 404 outside resolve and delete is PermanentError', async () => {
    counting(nock(API).get(`${D}/users/${account.id}/tokens`), [404, googleError(404, 'notFound', 'Resource Not Found')]);
    nock(API).post(`${D}/users/${account.id}/signOut`).reply(204);
    const error = await make()
      .actions.revoke_sessions!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
  });

  it('a failed transfer is PermanentError with its status', async () => {
    nock(API)
      .get(`${T}/transfers/T-9`)
      .reply(200, {
        id: 'T-9',
        overallTransferStatusCode: 'failed',
        applicationDataTransfers: [{ applicationId: '55656082996', applicationTransferStatus: 'failed' }],
      });
    const error = await make()
      .actions.transfer_files!.execute(account, actionContext(subject, { checkpoint: { transferId: 'T-9', polls: 2 } }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/T-9 ended with status failed \(55656082996=failed\)/);
  });
});

describe('service account with domain-wide delegation', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const serviceAccountKey = { client_email: 'deprovisiond@project.iam.gserviceaccount.com', private_key: privateKey };

  function assertionOf(body: unknown): string {
    const params = typeof body === 'string' ? new URLSearchParams(body) : new URLSearchParams(body as Record<string, string>);
    expect(params.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    return params.get('assertion') ?? '';
  }

  it('signs a JWT for the admin subject with the configured scopes and uses the token it gets', async () => {
    let assertion = '';
    const tokenScope = nock('https://oauth2.googleapis.com')
      .post('/token', (body) => {
        assertion = assertionOf(body);
        return true;
      })
      .reply(200, { access_token: 'ya29.delegated', token_type: 'Bearer', expires_in: 3600 });
    const apiScope = nock(API, { reqheaders: { authorization: 'Bearer ya29.delegated' } })
      .get(`${D}/users`)
      .query({ customer: 'my_customer', maxResults: '1' })
      .reply(200, {});
    const provider = createGoogleProvider(googleConfigSchema.parse({ adminSubject: 'admin@example.com', serviceAccountKey }), {
      name: 'google-jwt',
      logger: silentLogger(),
    });
    await provider.validate!({ signal: signal(), logger: silentLogger() });
    tokenScope.done();
    apiScope.done();

    const [header, payload, signature] = assertion.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({
      iss: serviceAccountKey.client_email,
      sub: 'admin@example.com',
      aud: 'https://oauth2.googleapis.com/token',
    });
    expect(String(claims.scope).split(' ').sort()).toEqual([...DEFAULT_GOOGLE_SCOPES].sort());
    const signed = verifySignature(
      'RSA-SHA256',
      Buffer.from(`${header}.${payload}`),
      createPublicKey(publicKey),
      Buffer.from(signature!, 'base64url'),
    );
    expect(signed).toBe(true);
  });

  it('the JWT client does not replay a POST that got a 403 (no re-auth retry)', async () => {
    nock('https://oauth2.googleapis.com')
      .post('/token')
      .times(3)
      .reply(200, { access_token: 'ya29.delegated', token_type: 'Bearer', expires_in: 3600 });
    const seen = counting(nock(API).post(`${D}/users/${account.id}/signOut`), [
      403,
      googleError(403, 'userRateLimitExceeded', 'User Rate Limit Exceeded'),
    ]);
    const provider = createGoogleProvider(googleConfigSchema.parse({ adminSubject: 'admin@example.com', serviceAccountKey }), {
      name: 'google-jwt',
      logger: silentLogger(),
    });
    const error = await provider.actions.revoke_sessions!.execute(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(seen.count).toBe(1);
  });

  it('a delegation that does not grant the scopes fails validate() with PermanentError, no key material in it', async () => {
    nock('https://oauth2.googleapis.com').post('/token').reply(401, {
      error: 'unauthorized_client',
      error_description: 'Client is unauthorized to retrieve access tokens using this method.',
    });
    const provider = createGoogleProvider(
      googleConfigSchema.parse({ adminSubject: 'admin@example.com', serviceAccountKey, scopes: [DEFAULT_GOOGLE_SCOPES[0]!] }),
      { name: 'google-jwt', logger: silentLogger() },
    );
    const error = await provider.validate!({ signal: signal(), logger: silentLogger() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toContain('unauthorized_client');
    const text = `${(error as Error).message} ${JSON.stringify(error)}`;
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain('assertion');
  });
});
