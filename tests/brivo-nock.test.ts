/**
 * The exact requests the Brivo adapter sends, asserted with nock: the password grant
 * (Basic client credentials, `api-key`, form body), the `api-key` + bearer headers on
 * every API call, the lookup paths and filter, suspend and credential removal verbs and
 * bodies, and how Brivo's and its Mashery gateway's answers become typed errors.
 */
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { brivoConfigSchema, type BrivoConfigInput } from '../providers/brivo/config.ts';
import { DEFAULT_QPS_DELAY_MS, DEFAULT_QUOTA_DELAY_MS } from '../providers/brivo/errors.ts';
import { brivoModule } from '../providers/brivo/index.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { strictNock } from './helpers/strict-nock.ts';

const API = 'https://api.brivo.example';
const AUTH = 'https://auth.brivo.example';
const API_KEY = 'brivo-nock-api-key-secret';
const ACCESS_TOKEN = 'brivo-nock-access-token';
const NOW = new Date('2025-03-01T12:00:00.000Z');
const account: AccountRef = { id: '442211', externalId: 'HR-1815', suspended: false };
const subject: Subject = { externalId: 'HR-1815', emails: ['ada@acme.example'] };
const ctx = () => actionContext(subject, { now: () => NOW });

function provider(overrides: Partial<BrivoConfigInput> = {}): Provider {
  const config = brivoConfigSchema.parse({
    apiUrl: API,
    authUrl: AUTH,
    apiKey: API_KEY,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    username: 'deprovisiond-admin',
    password: 'admin-password',
    requestTimeoutMs: 5000,
    ...overrides,
  });
  return brivoModule.create(config, { name: 'brivo-nock', logger: silentLogger() });
}

/** The password grant exactly as Brivo documents it. */
function tokenGrant(token = ACCESS_TOKEN) {
  return nock(AUTH, {
    reqheaders: {
      authorization: `Basic ${Buffer.from('client-id:client-secret').toString('base64')}`,
      'api-key': API_KEY,
      'content-type': 'application/x-www-form-urlencoded',
    },
  })
    .post('/oauth/token', { grant_type: 'password', username: 'deprovisiond-admin', password: 'admin-password' })
    .reply(200, { access_token: token, token_type: 'bearer', refresh_token: 'r', expires_in: 3600 });
}

/** Every API call carries the api-key and the bearer token. */
const brivo = (token = ACCESS_TOKEN) => nock(API, { reqheaders: { 'api-key': API_KEY, authorization: `Bearer ${token}` } });

strictNock();

describe('requests sent', () => {
  it('resolve by externalId: GET /v1/api/users/{externalId}/external', async () => {
    tokenGrant();
    brivo().get('/v1/api/users/HR%2F1815/external').reply(200, { id: 442211, externalId: 'HR/1815', suspended: false });
    const s: Subject = { externalId: 'HR/1815', emails: [] };
    expect(await provider().resolve(s, actionContext(s))).toEqual({ id: '442211', externalId: 'HR/1815', suspended: false });
  });

  it('resolve by custom field: GET /v1/api/users?filter=cf_{id}__exact:{email}&pageSize=2, then the field itself', async () => {
    tokenGrant();
    brivo()
      .get('/v1/api/users')
      .query({ filter: 'cf_2762__exact:ada@acme.example', pageSize: '2' })
      .reply(200, { data: [{ id: 442211, suspended: false, customFields: [] }], offset: 0, pageSize: 2, count: 1 })
      .get('/v1/api/users/442211/custom-fields')
      .reply(200, { data: [{ id: 2762, fieldName: 'Work Email', fieldType: 'TEXT', value: 'Ada@acme.example' }], count: 1 });
    const p = provider({ lookup: { by: 'customField', customFieldId: 2762 } });
    expect(await p.resolve(subject, ctx())).toMatchObject({ id: '442211' });
  });

  it('deactivate_badge: reads status, PUTs {"suspended":true}, lists credentials, DELETEs each', async () => {
    tokenGrant();
    brivo()
      .get('/v1/api/users/442211/suspended')
      .reply(200, { id: 442211, suspended: false })
      .put('/v1/api/users/442211/suspended', { suspended: true })
      .matchHeader('content-type', 'application/json')
      .reply(200, { id: 442211, suspended: true })
      .get('/v1/api/users/442211/credentials')
      .query({ offset: '0', pageSize: '100' })
      .reply(200, {
        data: [
          { id: 38981, credentialFormat: { id: 100, name: 'HID 26 bit Card' }, referenceId: '329', encodedCredential: '28c0293' },
          { id: 611729, credentialFormat: { id: 2, name: 'PIN Code' }, encodedCredential: '23354' },
        ],
        count: 2,
      })
      .delete('/v1/api/users/442211/credentials/38981')
      .reply(204)
      .delete('/v1/api/users/442211/credentials/611729')
      .reply(404, { code: 404, message: 'Credential not found' });
    const result = await provider().actions.deactivate_badge!.execute(account, ctx());
    // The credential that answered 404 was already gone: only the one removed now is listed.
    expect(result.evidence).toEqual({
      userId: '442211',
      suspendedBefore: false,
      suspended: true,
      credentialsRevoked: [{ id: '38981', format: 'HID 26 bit Card' }],
      alreadyDone: false,
    });
    expect(JSON.stringify(result.evidence)).not.toMatch(/28c0293|23354/);
  });

  it('verify: GET suspended and credentials; a remaining credential fails it', async () => {
    tokenGrant();
    brivo()
      .get('/v1/api/users/442211/suspended')
      .reply(200, { id: 442211, suspended: true })
      .get('/v1/api/users/442211/credentials')
      .query(true)
      .reply(200, { data: [{ id: 7, credentialFormat: { id: 100, name: 'HID 26 bit Card' } }], count: 1 });
    const error = await provider()
      .actions.deactivate_badge!.verify(account, ctx())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({
      userId: '442211',
      suspended: true,
      remainingCredentials: [{ id: '7', format: 'HID 26 bit Card' }],
    });
  });

  it('a user deleted from Brivo (404) is already done', async () => {
    tokenGrant();
    brivo().get('/v1/api/users/442211/suspended').reply(404, { code: 404, message: 'User not found' });
    expect((await provider().actions.deactivate_badge!.execute(account, ctx())).evidence).toEqual({
      userId: '442211',
      httpStatus: 404,
      alreadyDone: true,
    });
  });

  it('a 401 on the cached token fetches one new token and sends the call once more', async () => {
    const p = provider();
    tokenGrant('first-token');
    brivo('first-token').get('/v1/api/users').query({ pageSize: '1' }).reply(200, { data: [], offset: 0, pageSize: 1, count: 0 });
    await p.validate!({ signal: AbortSignal.timeout(5000), logger: silentLogger() });

    brivo('first-token').get('/v1/api/users/442211/suspended').reply(401, { error: 'invalid_token' });
    tokenGrant('second-token');
    brivo('second-token')
      .get('/v1/api/users/442211/suspended')
      .reply(200, { id: 442211, suspended: true })
      .get('/v1/api/users/442211/credentials')
      .query(true)
      .reply(200, { data: [], count: 0 });
    expect(await p.actions.deactivate_badge!.verify(account, ctx())).toMatchObject({ suspended: true });
  });
});

describe('errors', () => {
  const statusError = async () =>
    provider()
      .actions.deactivate_badge!.verify(account, ctx())
      .catch((e: unknown) => e);
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    tokenGrant();
    brivo()
      .get('/v1/api/users/442211/suspended')
      .reply(status, body as nock.Body, headers);
  };

  it('403 ERR_403_DEVELOPER_OVER_QPS is a rate limit: Retry-After, else one second', async () => {
    answer(403, '<h1>Developer Over Qps</h1>', { 'X-Mashery-Error-Code': 'ERR_403_DEVELOPER_OVER_QPS', 'Retry-After': '3' });
    expect(((await statusError()) as RateLimitedError).retryAfterMs).toBe(3000);
    answer(403, '<h1>Developer Over Qps</h1>', { 'X-Mashery-Error-Code': 'ERR_403_DEVELOPER_OVER_QPS' });
    const error = await statusError();
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(DEFAULT_QPS_DELAY_MS);
  });

  it('403 ERR_403_DEVELOPER_OVER_RATE (quota) waits longer; 429 honours an HTTP-date Retry-After', async () => {
    answer(403, '<h1>Developer Over Rate</h1>', { 'X-Mashery-Error-Code': 'ERR_403_DEVELOPER_OVER_RATE' });
    expect(((await statusError()) as RateLimitedError).retryAfterMs).toBe(DEFAULT_QUOTA_DELAY_MS);
    answer(429, '', { 'Retry-After': 'Sat, 01 Mar 2025 12:00:45 GMT' });
    expect(((await statusError()) as RateLimitedError).retryAfterMs).toBe(45_000);
  });

  it('a plain 403 is a missing permission; 596 (wrong verb) permanent; 503 transient', async () => {
    answer(403, { code: 403, message: 'You are not allowed to perform that action' });
    const forbidden = await statusError();
    expect(forbidden).toBeInstanceOf(PermanentError);
    expect((forbidden as Error).message).toBe('Brivo query suspended status: HTTP 403: You are not allowed to perform that action');
    answer(596, '<h1>596 Service Not Found</h1>');
    expect(await statusError()).toBeInstanceOf(PermanentError);
    answer(503, { code: 503, message: 'dependent service unavailable' });
    expect(await statusError()).toBeInstanceOf(TransientError);
  });

  it('no error message carries the api-key, the token or the password', async () => {
    nock(AUTH)
      .post('/oauth/token')
      .reply(400, { error: 'invalid_grant', error_description: `Bad credentials for ${API_KEY}` });
    const error = await statusError();
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe('Brivo token request: HTTP 400 invalid_grant');
    for (const secret of [API_KEY, ACCESS_TOKEN, 'admin-password', 'client-secret']) expect((error as Error).message).not.toContain(secret);
  });
});
