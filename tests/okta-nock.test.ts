/**
 * The exact requests the Okta adapter sends, through the real SDK, asserted with nock:
 * method, path, query, and the SSWS Authorization header. Any request nobody expected
 * fails the test (net connect is disabled and every scope must be done).
 */
import { generateKeyPairSync } from 'node:crypto';
import nock from 'nock';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { oktaModule } from '../providers/okta/index.ts';
import { DEFAULT_RATE_LIMIT_DELAY_MS } from '../providers/okta/errors.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { JsonObject, Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { strictNock } from './helpers/strict-nock.ts';

const ORG = 'https://acme.okta.example';
const TOKEN = '00nock-test-token-secret';
const NOW = new Date('2025-03-01T12:00:00.000Z');
const account: AccountRef = { id: '00u1abc', login: 'ada@acme.example', status: 'ACTIVE' };
const subject: Subject = { userName: 'ada@acme.example', emails: ['ada@acme.example', 'ada.lovelace@acme.example'] };

let provider: Provider;

/** Every interceptor requires the API token, exactly as Okta expects it. */
const okta = () => nock(ORG, { reqheaders: { authorization: `SSWS ${TOKEN}` } });
const ctx = (params: JsonObject = {}) => actionContext(subject, { now: () => NOW, params });

function oktaUser(status: string, transitioningToStatus: string | null = null) {
  return {
    id: account.id,
    status,
    created: '2024-01-01T00:00:00.000Z',
    activated: '2024-01-01T00:00:00.000Z',
    statusChanged: '2024-01-01T00:00:00.000Z',
    lastUpdated: '2024-01-01T00:00:00.000Z',
    profile: { login: account.login, email: account.login, firstName: 'Ada', lastName: 'Lovelace' },
    transitioningToStatus,
    // Absolute, as a real org answers: the SDK's default cache keys users by this link.
    _links: { self: { href: `${ORG}/api/v1/users/${account.id}` } },
  };
}

function oktaError(errorCode: string, errorSummary: string) {
  return { errorCode, errorSummary, errorLink: errorCode, errorId: 'oae123', errorCauses: [] };
}

strictNock();
beforeAll(() => {
  provider = oktaModule.create({ orgUrl: ORG, token: TOKEN, requestTimeoutMs: 5000 }, { name: 'okta', logger: silentLogger() });
});

describe('requests sent', () => {
  it('revoke_sessions: DELETE sessions with oauthTokens and forgetDevices, then DELETE grants', async () => {
    okta()
      .delete(`/api/v1/users/${account.id}/sessions`)
      .query({ oauthTokens: 'true', forgetDevices: 'true' })
      .reply(204)
      .delete(`/api/v1/users/${account.id}/grants`)
      .reply(204);
    await provider.actions.revoke_sessions!.execute(account, ctx());
  });

  it('revoke_sessions: a 429 on the grants DELETE hands sessionsRevoked to the retry, which sends only the grants DELETE', async () => {
    const reset = NOW.getTime() / 1000 + 7;
    let sessionDeletes = 0;
    okta()
      .delete(`/api/v1/users/${account.id}/sessions`)
      .query({ oauthTokens: 'true', forgetDevices: 'true' })
      .times(2) // a second DELETE would be answered (and counted), not fail as unexpected
      .reply(() => {
        sessionDeletes += 1;
        return [204];
      });
    okta()
      .delete(`/api/v1/users/${account.id}/grants`)
      .reply(429, oktaError('E0000047', 'API call exceeded rate limit due to too many requests.'), {
        'X-Rate-Limit-Reset': String(reset),
      })
      .delete(`/api/v1/users/${account.id}/grants`)
      .reply(204);

    const error = await provider.actions.revoke_sessions!.execute(account, ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    const limited = error as RateLimitedError;
    expect(limited.retryAfterMs).toBe(7000);
    expect(limited.message).toMatch(/revokeUserGrants/);
    expect(limited.checkpoint).toEqual({ sessionsRevoked: true, sessionsRevokedAt: NOW.toISOString() });

    // The engine stores the error's checkpoint and hands it to the retry (tests/engine.test.ts).
    const retry = await provider.actions.revoke_sessions!.execute(account, { ...ctx(), checkpoint: limited.checkpoint! });
    expect(sessionDeletes).toBe(1);
    expect(retry.evidence).toMatchObject({
      sessionsRevoked: true,
      sessionsRevokedBy: 'an earlier attempt',
      sessionsRevokedAt: NOW.toISOString(),
      grantsRevoked: true,
    });
    nock.cleanAll(); // the unused second sessions DELETE
  });

  it('revoke_sessions: a 500 on the sessions DELETE carries no checkpoint (nothing was done)', async () => {
    okta()
      .delete(`/api/v1/users/${account.id}/sessions`)
      .query({ oauthTokens: 'true', forgetDevices: 'true' })
      .reply(500, oktaError('E0000009', 'Internal Server Error'));
    const error = await provider.actions.revoke_sessions!.execute(account, ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).checkpoint).toBeUndefined();
  });

  it('revoke_sessions verify: reads grants and clients, and fails on a remaining client', async () => {
    okta()
      .get(`/api/v1/users/${account.id}/grants`)
      .reply(200, [])
      .get(`/api/v1/users/${account.id}/clients`)
      .reply(200, [{ client_id: '0oa9', client_name: 'Portal', _links: {} }]);
    const error = await provider.actions.revoke_sessions!.verify(account, ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toMatchObject({ grants: [], clients: ['0oa9'] });
  });

  it('resolve: GET /api/v1/users/{login}, a 404 moves on to the next email', async () => {
    okta()
      .get('/api/v1/users/ada%40acme.example')
      .reply(404, oktaError('E0000007', 'Not found: Resource not found: ada@acme.example (User)'))
      .get('/api/v1/users/ada.lovelace%40acme.example')
      .reply(200, oktaUser('ACTIVE'));
    expect(await provider.resolve(subject, ctx())).toEqual(account);
  });

  it('resolve: every login 404 gives null', async () => {
    okta()
      .get('/api/v1/users/ada%40acme.example')
      .reply(404, oktaError('E0000007', 'Not found'))
      .get('/api/v1/users/ada.lovelace%40acme.example')
      .reply(404, oktaError('E0000007', 'Not found'));
    expect(await provider.resolve(subject, ctx())).toBeNull();
  });

  it('disable_account: suspend reads, POSTs lifecycle/suspend, and verify reads the user again (no cache)', async () => {
    okta()
      .get(`/api/v1/users/${account.id}`)
      .reply(200, oktaUser('ACTIVE'))
      .post(`/api/v1/users/${account.id}/lifecycle/suspend`)
      .reply(200, {})
      .get(`/api/v1/users/${account.id}`)
      .reply(200, oktaUser('SUSPENDED'));
    await provider.actions.disable_account!.execute(account, ctx({ mode: 'suspend' }));
    expect(await provider.actions.disable_account!.verify(account, ctx({ mode: 'suspend' }))).toMatchObject({
      status: 'SUSPENDED',
    });
  });

  it('disable_account: deactivate POSTs lifecycle/deactivate with sendEmail=false', async () => {
    okta()
      .get(`/api/v1/users/${account.id}`)
      .reply(200, oktaUser('SUSPENDED'))
      .post(`/api/v1/users/${account.id}/lifecycle/deactivate`)
      .query({ sendEmail: 'false' })
      .reply(200, {})
      .get(`/api/v1/users/${account.id}`)
      .reply(200, oktaUser('DEPROVISIONED'));
    const result = await provider.actions.disable_account!.execute(account, ctx({ mode: 'deactivate' }));
    expect(result.evidence).toMatchObject({ previousStatus: 'SUSPENDED', status: 'DEPROVISIONED' });
  });

  it('remove_groups: DELETE /api/v1/groups/{gid}/users/{uid} for OKTA_GROUPs only', async () => {
    const group = (id: string, type: string, name: string) => ({ id, type, profile: { name }, _links: {} });
    okta()
      .get(`/api/v1/users/${account.id}/groups`)
      .reply(200, [group('00gE', 'BUILT_IN', 'Everyone'), group('00g1', 'OKTA_GROUP', 'Eng'), group('00gA', 'APP_GROUP', 'SFDC')])
      .delete(`/api/v1/groups/00g1/users/${account.id}`)
      .reply(204);
    const result = await provider.actions.remove_groups!.execute(account, ctx());
    expect(result.evidence).toMatchObject({ removed: [{ id: '00g1' }], skipped: [{ id: '00gE' }, { id: '00gA' }] });
  });

  it('delete_account: DELETE /api/v1/users/{id} with sendEmail=false once DEPROVISIONED; verify wants 404', async () => {
    okta()
      .get(`/api/v1/users/${account.id}`)
      .reply(200, oktaUser('DEPROVISIONED'))
      .delete(`/api/v1/users/${account.id}`)
      .query({ sendEmail: 'false' })
      .reply(204)
      .get(`/api/v1/users/${account.id}`)
      .reply(404, oktaError('E0000007', 'Not found'));
    await provider.actions.delete_account!.execute(account, ctx());
    await provider.actions.delete_account!.verify(account, ctx());
  });

  it('remove_mfa: GET factors, then POST lifecycle/reset_factors; verify GETs the factors again', async () => {
    const factor = (id: string, factorType: string) => ({ id, factorType, provider: 'OKTA', status: 'ACTIVE', _links: {} });
    okta()
      .get(`/api/v1/users/${account.id}/factors`)
      .reply(200, [factor('opf1', 'push'), factor('mbl1', 'sms')])
      .post(`/api/v1/users/${account.id}/lifecycle/reset_factors`)
      .reply(200, {})
      .get(`/api/v1/users/${account.id}/factors`)
      .reply(200, []);
    const result = await provider.actions.remove_mfa!.execute(account, ctx());
    expect(result.evidence).toMatchObject({
      factorsReset: [
        { id: 'opf1', factorType: 'push' },
        { id: 'mbl1', factorType: 'sms' },
      ],
    });
    expect(await provider.actions.remove_mfa!.verify(account, ctx())).toEqual({ userId: account.id, remainingFactors: [] });
  });

  it('remove_admin_roles: GET roles, DELETE /roles/{roleAssignmentId} for direct ones only; a 404 is already gone', async () => {
    const role = (id: string, type: string, assignmentType: string) => ({
      id,
      type,
      label: type,
      status: 'ACTIVE',
      assignmentType,
      _links: {},
    });
    okta()
      .get(`/api/v1/users/${account.id}/roles`)
      .reply(200, [role('ra1', 'SUPER_ADMIN', 'USER'), role('ra2', 'APP_ADMIN', 'USER'), role('ra3', 'REPORT_ADMIN', 'GROUP')])
      .delete(`/api/v1/users/${account.id}/roles/ra1`)
      .reply(204)
      .delete(`/api/v1/users/${account.id}/roles/ra2`)
      .reply(404, oktaError('E0000007', 'Not found: Resource not found: ra2 (Role)'));
    const result = await provider.actions.remove_admin_roles!.execute(account, ctx());
    expect(result.evidence).toMatchObject({
      removedRoles: [{ id: 'ra1', type: 'SUPER_ADMIN' }],
      alreadyGone: [{ id: 'ra2' }],
      viaGroups: [{ id: 'ra3', assignmentType: 'GROUP' }],
    });
  });

  it('reset_password: POST /api/v1/users/{id} with only a random password, different each time, never in the evidence', async () => {
    const sent: string[] = [];
    const user = { ...oktaUser('ACTIVE'), passwordChanged: NOW.toISOString() };
    okta()
      .post(`/api/v1/users/${account.id}`, (body: { credentials?: { password?: { value?: unknown } } }) => {
        const value = body.credentials?.password?.value;
        if (typeof value !== 'string' || Object.keys(body).length !== 1) return false;
        sent.push(value);
        return true;
      })
      .times(2)
      .reply(200, user);
    const first = await provider.actions.reset_password!.execute(account, ctx());
    await provider.actions.reset_password!.execute(account, ctx());
    expect(sent).toHaveLength(2);
    expect(sent[0]).not.toBe(sent[1]);
    for (const password of sent) expect(password).toMatch(/^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)(?=.*[^a-zA-Z\d]).{40}$/);
    expect(first.evidence).toMatchObject({ passwordSet: true, passwordChanged: NOW.toISOString() });
    expect(JSON.stringify(first.evidence)).not.toContain(sent[0]);
  });

  it('reset_password: a refused password is a PermanentError that does not carry the password', async () => {
    let sent = '';
    okta()
      .post(`/api/v1/users/${account.id}`, (body: { credentials: { password: { value: string } } }) => {
        sent = body.credentials.password.value;
        return true;
      })
      .reply(400, oktaError('E0000001', 'Api validation failed: password'));
    const error = await provider.actions.reset_password!.execute(account, ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(sent).toHaveLength(40);
    expect(JSON.stringify(error) + String(error) + ((error as Error).stack ?? '')).not.toContain(sent);
  });

  it('reset_password verify: GET the user; passwordChanged older than the attempt (less the skew) fails', async () => {
    const started = new Date(NOW.getTime() - 5_000);
    okta()
      .get(`/api/v1/users/${account.id}`)
      .reply(200, { ...oktaUser('SUSPENDED'), passwordChanged: new Date(NOW.getTime() - 30_000).toISOString() })
      .get(`/api/v1/users/${account.id}`)
      .reply(200, { ...oktaUser('SUSPENDED'), passwordChanged: new Date(NOW.getTime() - 120_000).toISOString() });
    const withinSkew = await provider.actions.reset_password!.verify(account, { ...ctx(), attemptStartedAt: started });
    expect(withinSkew).toMatchObject({ status: 'SUSPENDED', passwordChanged: new Date(NOW.getTime() - 30_000).toISOString() });
    const error = await provider.actions.reset_password!.verify(account, { ...ctx(), attemptStartedAt: started }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
  });

  it('validate: one authenticated GET /api/v1/users?limit=1', async () => {
    okta().get('/api/v1/users').query({ limit: '1' }).reply(200, []);
    await provider.validate!({ signal: new AbortController().signal, logger: silentLogger() });
  });
});

describe('errors', () => {
  it('a 429 is sent once (the SDK does not retry it) and reports the delay until X-Rate-Limit-Reset', async () => {
    const reset = NOW.getTime() / 1000 + 7;
    okta()
      .get(`/api/v1/users/${account.id}`)
      .reply(429, oktaError('E0000047', 'API call exceeded rate limit due to too many requests.'), {
        'X-Rate-Limit-Limit': '600',
        'X-Rate-Limit-Remaining': '0',
        'X-Rate-Limit-Reset': String(reset),
        Date: NOW.toUTCString(),
      });
    // Would be consumed by an SDK retry.
    const retry = okta().get(`/api/v1/users/${account.id}`).reply(200, oktaUser('ACTIVE'));
    const error = await provider.actions.disable_account!.execute(account, ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(7000);
    expect(retry.isDone()).toBe(false);
    nock.cleanAll();
  });

  it('a 429 without a reset header waits the default; a reset in the past waits 0', async () => {
    okta().get(`/api/v1/users/${account.id}`).reply(429, oktaError('E0000047', 'Too many'));
    const missing = await provider.actions.delete_account!.verify(account, ctx()).catch((e: unknown) => e);
    expect((missing as RateLimitedError).retryAfterMs).toBe(DEFAULT_RATE_LIMIT_DELAY_MS);

    okta()
      .get(`/api/v1/users/${account.id}`)
      .reply(429, oktaError('E0000047', 'Too many'), { 'X-Rate-Limit-Reset': String(NOW.getTime() / 1000 - 30) });
    const past = await provider.actions.delete_account!.verify(account, ctx()).catch((e: unknown) => e);
    expect(past).toBeInstanceOf(RateLimitedError);
    expect((past as RateLimitedError).retryAfterMs).toBe(0);
  });

  it.each([500, 502, 503, 504])('HTTP %i is TransientError', async (status) => {
    okta().post(`/api/v1/users/${account.id}/lifecycle/suspend`).reply(status, oktaError('E0000009', 'Internal Server Error'));
    okta().get(`/api/v1/users/${account.id}`).reply(200, oktaUser('ACTIVE'));
    await expect(provider.actions.disable_account!.execute(account, ctx())).rejects.toBeInstanceOf(TransientError);
  });

  it('a non-JSON 502 from a proxy is TransientError too', async () => {
    okta().get(`/api/v1/users/${account.id}`).reply(502, '<html>Bad Gateway</html>', { 'Content-Type': 'text/html' });
    await expect(provider.actions.delete_account!.verify(account, ctx())).rejects.toBeInstanceOf(TransientError);
  });

  it('a connection reset is TransientError', async () => {
    // An Error object: nock 14 never settles the request for a plain-object error.
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    okta().get(`/api/v1/users/${account.id}`).replyWithError(reset);
    const started = Date.now();
    const error = await provider.actions.delete_account!.verify(account, ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toContain('ECONNRESET');
    // Not the request timeout (5 s) answering instead.
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it.each([
    [401, 'E0000011', 'Invalid token provided'],
    [403, 'E0000006', 'You do not have permission to perform the requested action'],
    [400, 'E0000001', 'Api validation failed: suspend'],
  ])('HTTP %i is PermanentError, with no credential in it', async (status, code, summary) => {
    okta().get(`/api/v1/users/${account.id}`).reply(200, oktaUser('ACTIVE'));
    okta().post(`/api/v1/users/${account.id}/lifecycle/suspend`).reply(status, oktaError(code, summary));
    const error = await provider.actions.disable_account!.execute(account, ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toContain(`HTTP ${status} ${code}`);
    const everything = JSON.stringify(error) + String(error) + String((error as Error).stack) + String((error as Error).cause);
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain('SSWS');
  });

  it('a 401 at validate() is PermanentError', async () => {
    okta().get('/api/v1/users').query({ limit: '1' }).reply(401, oktaError('E0000011', 'Invalid token provided'));
    await expect(provider.validate!({ signal: new AbortController().signal, logger: silentLogger() })).rejects.toBeInstanceOf(
      PermanentError,
    );
  });
});

describe('OAuth service app (private key JWT)', () => {
  it('gets a token with a client assertion, then calls the API with Bearer', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const oauthProvider = oktaModule.create(
      oktaModule.configSchema.parse({
        orgUrl: ORG,
        clientId: '0oaservice',
        keyId: 'kid1',
        privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      }),
      { name: 'okta-oauth', logger: silentLogger() },
    );
    let tokenRequest = '';
    nock(ORG)
      .post('/oauth2/v1/token', (body: unknown) => {
        tokenRequest = typeof body === 'string' ? body : new URLSearchParams(body as Record<string, string>).toString();
        return true;
      })
      .reply(200, { token_type: 'Bearer', access_token: 'at-123', expires_in: 3600, scope: 'okta.users.manage' });
    nock(ORG, { reqheaders: { authorization: 'Bearer at-123' } })
      .get('/api/v1/users')
      .query({ limit: '1' })
      .reply(200, []);
    await oauthProvider.validate!({ signal: new AbortController().signal, logger: silentLogger() });
    const form = new URLSearchParams(tokenRequest);
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(form.get('scope')).toBe('okta.users.read okta.users.manage okta.groups.manage');
    expect(form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const [header, payload] = (form.get('client_assertion') ?? '')
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    expect(header).toMatchObject({ alg: 'RS256', kid: 'kid1' });
    expect(payload).toMatchObject({ iss: '0oaservice', sub: '0oaservice', aud: `${ORG}/oauth2/v1/token` });
  });
});
