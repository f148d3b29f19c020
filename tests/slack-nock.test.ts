/**
 * The exact requests the Slack adapter sends through the official SDK and to Slack's SCIM
 * API, asserted with nock: form-encoded Web API POSTs with the Bearer token, the SCIM PATCH
 * bodies of SCIM 1.1 and 2.0, and how Slack's answers (HTTP 429 + Retry-After, the
 * `ok:false` envelope's codes, SCIM statuses) become typed errors, sent once (no SDK retry).
 */
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { slackConfigSchema, type SlackConfigInput } from '../providers/slack/config.ts';
import { DEFAULT_RATE_LIMIT_DELAY_MS } from '../providers/slack/errors.ts';
import { slackModule } from '../providers/slack/index.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { strictNock } from './helpers/strict-nock.ts';

const WEB = 'https://slack.example';
const SCIM = 'https://scim.slack.example';
const TOKEN = 'xoxp-nock-web-token-secret';
const SCIM_TOKEN = 'xoxp-nock-scim-token-secret';
const NOW = new Date('2025-03-01T12:00:00.000Z');
const account: AccountRef = { id: 'W0ADA', teamId: 'T01', teams: ['T01', 'T02'], deleted: false };
const subject: Subject = { externalId: 'HR-1815', emails: ['Ada@acme.example', 'ada.lovelace@acme.example'] };
const ctx = (params = {}) => actionContext(subject, { now: () => NOW, params });

function provider(overrides: Partial<SlackConfigInput> = {}): Provider {
  const config = slackConfigSchema.parse({
    token: TOKEN,
    apiUrl: `${WEB}/api`,
    scim: { version: 'v2', baseUrl: `${SCIM}/scim/v2`, token: SCIM_TOKEN },
    requestTimeoutMs: 5000,
    ...overrides,
  });
  return slackModule.create(config, { name: 'slack-nock', logger: silentLogger() });
}

/** Every Web API call: a form-encoded POST with the token as a Bearer header, never in the body. */
const web = () => nock(WEB, { reqheaders: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' } });
const scim = () => nock(SCIM, { reqheaders: { authorization: `Bearer ${SCIM_TOKEN}`, accept: 'application/json' } });

const gridUser = (overrides: Record<string, unknown> = {}) => ({
  id: 'W0ADA',
  team_id: 'T01',
  deleted: false,
  is_bot: false,
  profile: { email: 'ada@acme.example' },
  enterprise_user: { id: 'W0ADA', enterprise_id: 'E01', teams: ['T01', 'T02'] },
  ...overrides,
});

strictNock();

describe('requests sent', () => {
  it('resolve: users.lookupByEmail for each email in turn; users_not_found moves on', async () => {
    web()
      .post('/api/users.lookupByEmail', 'email=Ada%40acme.example')
      .reply(200, { ok: false, error: 'users_not_found' })
      .post('/api/users.lookupByEmail', 'email=ada.lovelace%40acme.example')
      .reply(200, { ok: true, user: gridUser({ profile: { email: 'ada.lovelace@acme.example' } }) });
    expect(await provider().resolve(subject, ctx())).toEqual({ id: 'W0ADA', teamId: 'T01', teams: ['T01', 'T02'], deleted: false });
  });

  it('revoke_sessions: admin.users.session.reset, then users.info and admin.users.session.list per workspace', async () => {
    web()
      .post('/api/admin.users.session.reset', 'user_id=W0ADA')
      .reply(200, { ok: true })
      .post('/api/users.info', 'user=W0ADA')
      .reply(200, { ok: true, user: gridUser() })
      // The SDK puts its own `team_id` slot first, so the form body leads with it.
      .post('/api/admin.users.session.list', 'team_id=T01&user_id=W0ADA&limit=100')
      .reply(200, { ok: true, active_sessions: [], response_metadata: { next_cursor: '' } })
      .post('/api/admin.users.session.list', 'team_id=T02&user_id=W0ADA&limit=100')
      .reply(200, { ok: true, active_sessions: [{ user_id: 'W0ADA', team_id: 'T02', session_id: 9912 }] });
    const p = provider();
    expect((await p.actions.revoke_sessions!.execute(account, ctx())).evidence).toEqual({
      userId: 'W0ADA',
      sessionsReset: true,
      resetAt: NOW.toISOString(),
      alreadyDone: false,
    });
    const error = await p.actions.revoke_sessions!.verify(account, ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({
      userId: 'W0ADA',
      workspacesChecked: ['T01', 'T02'],
      remainingSessions: [{ teamId: 'T02', sessionIds: ['9912'] }],
    });
  });

  it('disable_account scim_patch (SCIM 2.0): GET the user, PATCH a PatchOp replacing active; verify reads SCIM and users.info', async () => {
    scim().get('/scim/v2/Users/W0ADA').reply(200, { id: 'W0ADA', active: true });
    scim()
      .matchHeader('content-type', 'application/json')
      .patch('/scim/v2/Users/W0ADA', {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      })
      .reply(200, { id: 'W0ADA', active: false });
    const p = provider();
    expect((await p.actions.disable_account!.execute(account, ctx())).evidence).toEqual({
      userId: 'W0ADA',
      mode: 'scim_patch',
      activeBefore: true,
      alreadyDone: false,
    });
    scim().get('/scim/v2/Users/W0ADA').reply(200, { id: 'W0ADA', active: false });
    web()
      .post('/api/users.info', 'user=W0ADA')
      .reply(200, { ok: true, user: gridUser({ deleted: true }) });
    expect(await p.actions.disable_account!.verify(account, ctx())).toEqual({
      userId: 'W0ADA',
      mode: 'scim_patch',
      scimActive: false,
      deleted: true,
    });
  });

  it('SCIM 1.1 takes the attribute itself: {"schemas":["urn:scim:schemas:core:1.0"],"active":false}', async () => {
    scim().get('/scim/v1/Users/W0ADA').reply(200, { id: 'W0ADA', active: true });
    scim()
      .patch('/scim/v1/Users/W0ADA', { schemas: ['urn:scim:schemas:core:1.0'], active: false })
      .reply(200, { id: 'W0ADA', active: false });
    const p = provider({ scim: { version: 'v1', baseUrl: `${SCIM}/scim/v1`, token: SCIM_TOKEN } });
    expect((await p.actions.disable_account!.execute(account, ctx())).evidence).toMatchObject({ alreadyDone: false });
  });

  it('scim_delete: DELETE /Users/{id} after the read; an inactive user is already done and sees no DELETE', async () => {
    scim().get('/scim/v2/Users/W0ADA').reply(200, { id: 'W0ADA', active: true }).delete('/scim/v2/Users/W0ADA').reply(204);
    const p = provider({ disableMode: 'scim_delete' });
    expect((await p.actions.disable_account!.execute(account, ctx())).evidence).toMatchObject({ mode: 'scim_delete', alreadyDone: false });
    scim().get('/scim/v2/Users/W0ADA').reply(200, { id: 'W0ADA', active: false });
    expect((await p.actions.disable_account!.execute(account, ctx())).evidence).toEqual({
      userId: 'W0ADA',
      mode: 'scim_delete',
      activeBefore: false,
      alreadyDone: true,
    });
  });

  it('admin_remove (params.mode): users.info, then admin.users.remove per workspace; user_not_found there means already removed', async () => {
    web()
      .post('/api/users.info', 'user=W0ADA')
      .reply(200, { ok: true, user: gridUser() })
      .post('/api/admin.users.remove', 'team_id=T01&user_id=W0ADA')
      .reply(200, { ok: true })
      .post('/api/admin.users.remove', 'team_id=T02&user_id=W0ADA')
      .reply(200, { ok: false, error: 'user_not_found' });
    const p = provider({ scim: undefined, disableMode: 'admin_remove' });
    expect((await p.actions.disable_account!.execute(account, ctx({ mode: 'admin_remove' }))).evidence).toEqual({
      userId: 'W0ADA',
      mode: 'admin_remove',
      removedFrom: ['T01'],
      alreadyDone: false,
    });
    web()
      .post('/api/users.info', 'user=W0ADA')
      .reply(200, { ok: true, user: gridUser({ enterprise_user: { id: 'W0ADA', teams: ['T02'] } }) });
    const error = await p.actions.disable_account!.verify(account, ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({ userId: 'W0ADA', mode: 'admin_remove', deleted: false, workspaces: ['T02'] });
  });

  it('validate: auth.test (its x-oauth-scopes must name the lookup scopes), then one SCIM read', async () => {
    web()
      .post('/api/auth.test')
      .reply(200, { ok: true, user_id: 'W0BOT' }, { 'x-oauth-scopes': 'users:read,users:read.email,admin.users:read,admin.users:write' });
    scim().get('/scim/v2/Users').query({ count: '1' }).reply(200, { totalResults: 0, Resources: [] });
    await provider().validate!({ signal: AbortSignal.timeout(5000), logger: silentLogger() });

    web().post('/api/auth.test').reply(200, { ok: true }, { 'x-oauth-scopes': 'users:read' });
    const error = await provider().validate!({ signal: AbortSignal.timeout(5000), logger: silentLogger() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe('Slack auth.test: the token lacks scope users:read.email (needed to find people)');
  });
});

describe('errors', () => {
  const userInfoError = async () =>
    provider()
      .actions.revoke_sessions!.verify(account, ctx())
      .catch((e: unknown) => e);
  const answer = (status: number, body: nock.Body, headers: Record<string, string> = {}) =>
    web().post('/api/users.info').reply(status, body, headers);

  it('HTTP 429 with Retry-After is rate limited for exactly that long, and the SDK does not send it again', async () => {
    let unmatched = 0;
    const count = () => (unmatched += 1);
    nock.emitter.on('no match', count);
    try {
      answer(429, { ok: false, error: 'ratelimited' }, { 'Retry-After': '7' });
      const error = await userInfoError();
      expect(error).toBeInstanceOf(RateLimitedError);
      expect((error as RateLimitedError).retryAfterMs).toBe(7000);
      answer(429, { ok: false, error: 'ratelimited' });
      expect(((await userInfoError()) as RateLimitedError).retryAfterMs).toBe(DEFAULT_RATE_LIMIT_DELAY_MS);
    } finally {
      nock.emitter.removeListener('no match', count);
    }
    expect(unmatched).toBe(0);
  });

  it('ok:false ratelimited (HTTP 200) is rate limited too', async () => {
    answer(200, { ok: false, error: 'ratelimited' });
    expect(((await userInfoError()) as RateLimitedError).retryAfterMs).toBe(DEFAULT_RATE_LIMIT_DELAY_MS);
  });

  it('a refused token is permanent and says which token, without it', async () => {
    for (const code of ['invalid_auth', 'not_authed', 'token_revoked', 'account_inactive']) {
      answer(200, { ok: false, error: code });
      const error = await userInfoError();
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toBe(
        `Slack users.info: ${code}: the Web API token (providers.<name>.token) is missing, revoked or invalid`,
      );
      expect((error as Error).message).not.toContain(TOKEN);
    }
  });

  it('missing_scope names the scope needed and the scopes held; not_allowed_token_type asks for a user token', async () => {
    answer(200, { ok: false, error: 'missing_scope', needed: 'users:read', provided: 'users:read.email,chat:write' });
    expect(((await userInfoError()) as Error).message).toBe(
      'Slack users.info: missing_scope: the token lacks scope users:read (it has: users:read.email,chat:write)',
    );
    web()
      .post('/api/admin.users.session.reset')
      .reply(200, { ok: false, error: 'not_allowed_token_type' })
      // A refused reset looks at the user once: a deactivated one would have no session left.
      .post('/api/users.info')
      .reply(200, { ok: true, user: gridUser() });
    const error = await provider()
      .actions.revoke_sessions!.execute(account, ctx())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/^Slack admin\.users\.session\.reset: not_allowed_token_type: .*user token \(xoxp-\)/);
  });

  it('a refused reset of a user already deactivated (by disable_account beside it) is already done; of an active one, the refusal', async () => {
    web()
      .post('/api/admin.users.session.reset', 'user_id=W0ADA')
      .reply(200, { ok: false, error: 'user_is_deactivated' })
      .post('/api/users.info', 'user=W0ADA')
      .reply(200, { ok: true, user: gridUser({ deleted: true }) });
    expect((await provider().actions.revoke_sessions!.execute(account, ctx())).evidence).toEqual({
      userId: 'W0ADA',
      deleted: true,
      sessionsReset: false,
      alreadyDone: true,
    });
    web()
      .post('/api/admin.users.session.reset', 'user_id=W0ADA')
      .reply(200, { ok: false, error: 'not_an_admin' })
      .post('/api/users.info', 'user=W0ADA')
      .reply(200, { ok: true, user: gridUser() });
    await expect(provider().actions.revoke_sessions!.execute(account, ctx())).rejects.toThrow(
      /^Slack admin\.users\.session\.reset: not_an_admin: /,
    );
  });

  it('fatal_error, internal_error, HTTP 500 and 503 are transient; a body that is not an envelope too', async () => {
    for (const code of ['fatal_error', 'internal_error']) {
      answer(200, { ok: false, error: code });
      expect(await userInfoError()).toBeInstanceOf(TransientError);
    }
    answer(500, { ok: false, error: 'internal_error' });
    expect(await userInfoError()).toBeInstanceOf(TransientError);
    answer(503, '<html>upstream</html>');
    expect(await userInfoError()).toBeInstanceOf(TransientError);
    answer(200, '<html>captive portal</html>', { 'content-type': 'text/html' });
    const error = await userInfoError();
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toBe('Slack users.info: an answer that is not a Web API envelope');
  });

  it('an unknown code is a permanent refusal named by its code; user_not_found is absence, not an error', async () => {
    answer(200, { ok: false, error: 'invalid_arguments' });
    expect(((await userInfoError()) as Error).message).toBe('Slack users.info: invalid_arguments');
    answer(200, { ok: false, error: 'user_not_found' });
    expect(await userInfoError()).toEqual({ userId: 'W0ADA', found: false });
  });

  it('SCIM: 401 permanent, 429 rate limited by Retry-After, 503 transient, 404 absent', async () => {
    const disable = () =>
      provider()
        .actions.disable_account!.execute(account, ctx())
        .catch((e: unknown) => e);
    scim()
      .get('/scim/v2/Users/W0ADA')
      .reply(401, { Errors: { description: 'invalid_authentication', code: 401 } });
    const refused = await disable();
    expect(refused).toBeInstanceOf(PermanentError);
    expect((refused as Error).message).toBe('Slack SCIM get User: HTTP 401: invalid_authentication');
    scim().get('/scim/v2/Users/W0ADA').reply(429, {}, { 'Retry-After': '12' });
    expect(((await disable()) as RateLimitedError).retryAfterMs).toBe(12_000);
    scim().get('/scim/v2/Users/W0ADA').reply(503, { detail: 'down', status: '503' });
    expect(await disable()).toBeInstanceOf(TransientError);
    scim().get('/scim/v2/Users/W0ADA').reply(404, { detail: 'Resource not found', status: '404' });
    expect(((await disable()) as { evidence: unknown }).evidence).toEqual({
      userId: 'W0ADA',
      mode: 'scim_patch',
      found: false,
      alreadyDone: true,
    });
  });

  it('hostile ids from an account are refused before any request', async () => {
    const error = await provider()
      .actions.revoke_sessions!.execute({ id: '../../admin.users.remove' }, ctx())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    const scimError = await provider()
      .actions.disable_account!.execute({ id: 'W0ADA/../../Groups' }, ctx())
      .catch((e: unknown) => e);
    expect(scimError).toBeInstanceOf(PermanentError);
  });
});
