/**
 * The exact requests the outbound SCIM adapter sends, asserted with nock: filters for
 * each lookup (escaping included), both PATCH forms, the Authorization header for a
 * static token and for OAuth client credentials, and how answers become typed errors
 * (429 + Retry-After in seconds or as an HTTP date, 404 as the success state, 401/403,
 * 5xx, network failure). Net connect is off and every interceptor must be used.
 */
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { scimConfigSchema, type ScimConfigInput } from '../providers/scim/config.ts';
import { DEFAULT_RATE_LIMIT_DELAY_MS } from '../providers/scim/errors.ts';
import { lookupFilter } from '../providers/scim/filter.ts';
import { scimModule } from '../providers/scim/index.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { strictNock } from './helpers/strict-nock.ts';

const ORIGIN = 'https://acme.scim.example';
const BASE = `${ORIGIN}/scim/v2`;
const TOKEN = 'scim-nock-bearer-secret';
const NOW = new Date('2025-03-01T12:00:00.000Z');
const account: AccountRef = { id: 'u-2819c223', userName: 'ada@acme.example', active: true };
const subject: Subject = { userName: 'ada@acme.example', externalId: 'HR-1815', emails: ['ada@acme.example', 'ada.l@acme.example'] };
const ctx = () => actionContext(subject, { now: () => NOW });
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

function provider(overrides: Partial<ScimConfigInput> = {}): Provider {
  const config = scimConfigSchema.parse({ baseUrl: BASE, auth: { bearerToken: TOKEN }, requestTimeoutMs: 5000, ...overrides });
  return scimModule.create(config, { name: 'scim-nock', logger: silentLogger() });
}

/** Every interceptor requires the bearer token. */
const scim = (token = TOKEN) => nock(ORIGIN, { reqheaders: { authorization: `Bearer ${token}` } });

function user(active: boolean, extra: Record<string, unknown> = {}) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    id: account.id,
    userName: 'ada@acme.example',
    externalId: 'HR-1815',
    emails: [{ value: 'ada@acme.example', primary: true }],
    active,
    ...extra,
  };
}
const list = (...resources: unknown[]) => ({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
  totalResults: resources.length,
  Resources: resources,
});
const scimError = (status: number, detail: string, scimType?: string) => ({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
  status: String(status),
  detail,
  ...(scimType ? { scimType } : {}),
});

strictNock();

describe('filters', () => {
  it('escapes quotes and backslashes as a SCIM string literal', () => {
    expect(lookupFilter('userName', 'x" or userName pr or userName eq "')).toBe('userName eq "x\\" or userName pr or userName eq \\""');
    expect(lookupFilter('externalId', 'back\\slash')).toBe('externalId eq "back\\\\slash"');
    expect(lookupFilter('email', 'ada@acme.example', 'emails[value]')).toBe('emails[value eq "ada@acme.example"]');
  });

  it('resolve by userName: GET /Users?filter=userName eq "..."&count=2', async () => {
    scim()
      .get('/scim/v2/Users')
      .query({ filter: 'userName eq "ada@acme.example"', count: '2' })
      .reply(200, list(user(true)));
    expect(await provider().resolve(subject, ctx())).toEqual({
      id: account.id,
      userName: 'ada@acme.example',
      active: true,
      lookup: 'userName',
    });
  });

  it('resolve by email: emails.value eq, one email after the other', async () => {
    scim()
      .get('/scim/v2/Users')
      .query({ filter: 'emails.value eq "ada@acme.example"', count: '2' })
      .reply(200, list())
      .get('/scim/v2/Users')
      .query({ filter: 'emails.value eq "ada.l@acme.example"', count: '2' })
      .reply(200, list(user(true, { emails: [{ value: 'Ada.L@acme.example' }] })));
    expect(await provider({ lookup: 'email' }).resolve(subject, ctx())).toMatchObject({ id: account.id });
  });

  it('resolve by email in the value-path form: emails[value eq "..."]', async () => {
    scim()
      .get('/scim/v2/Users')
      .query({ filter: 'emails[value eq "ada@acme.example"]', count: '2' })
      .reply(200, list(user(true)));
    expect(await provider({ lookup: 'email', emailFilter: 'emails[value]' }).resolve(subject, ctx())).toMatchObject({ id: account.id });
  });

  it('resolve by externalId', async () => {
    scim()
      .get('/scim/v2/Users')
      .query({ filter: 'externalId eq "HR-1815"', count: '2' })
      .reply(200, list(user(true)));
    expect(await provider({ lookup: 'externalId' }).resolve(subject, ctx())).toMatchObject({ id: account.id });
  });

  it('a hostile userName is sent as one escaped literal', async () => {
    const hostile: Subject = { userName: 'x" or userName pr or userName eq "', emails: [] };
    scim().get('/scim/v2/Users').query({ filter: 'userName eq "x\\" or userName pr or userName eq \\""', count: '2' }).reply(200, list());
    expect(await provider().resolve(hostile, actionContext(hostile))).toBeNull();
  });

  it('more than one match is refused, even when the page holds only one', async () => {
    scim()
      .get('/scim/v2/Users')
      .query(true)
      .reply(200, { ...list(user(true)), totalResults: 3 });
    await expect(provider().resolve(subject, ctx())).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('disable_account requests', () => {
  it('path form: GET, then PATCH {"op":"replace","path":"active","value":false} as application/scim+json', async () => {
    scim()
      .get(`/scim/v2/Users/${account.id}`)
      .reply(200, user(true))
      .patch(`/scim/v2/Users/${account.id}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      })
      .matchHeader('content-type', 'application/scim+json')
      .reply(200, user(false));
    const result = await provider().actions.disable_account!.execute(account, ctx());
    expect(result.evidence).toMatchObject({ previousActive: true, patchForm: 'path', alreadyDone: false });
  });

  it('value-object form: PATCH {"op":"replace","value":{"active":false}}', async () => {
    scim()
      .get(`/scim/v2/Users/${account.id}`)
      .reply(200, user(true))
      .patch(`/scim/v2/Users/${account.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] })
      .reply(204);
    await provider({ patchForm: 'valueObject' }).actions.disable_account!.execute(account, ctx());
  });

  it('an inactive user is not PATCHed again (inactive mode); Entra-style "False" counts as false', async () => {
    scim()
      .get(`/scim/v2/Users/${account.id}`)
      .reply(200, user(false, { active: 'False' }));
    expect((await provider().actions.disable_account!.execute(account, ctx())).evidence).toMatchObject({ alreadyDone: true });
  });

  it('verify reads the user back and fails on active:true', async () => {
    scim().get(`/scim/v2/Users/${account.id}`).reply(200, user(true));
    const error = await provider()
      .actions.disable_account!.verify(account, ctx())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({ userId: account.id, userName: 'ada@acme.example', active: true });
  });
});

describe('404 as the success state (verify: gone)', () => {
  it('the PATCH answering 404 is already done, and verify accepts the 404', async () => {
    const p = provider({ verify: 'gone' });
    scim()
      .get(`/scim/v2/Users/${account.id}`)
      .reply(200, user(false))
      .patch(`/scim/v2/Users/${account.id}`)
      .reply(404, scimError(404, 'Resource not found'))
      .get(`/scim/v2/Users/${account.id}`)
      .reply(404, scimError(404, 'Resource not found'));
    expect((await p.actions.disable_account!.execute(account, ctx())).evidence).toMatchObject({ alreadyDone: true });
    expect(await p.actions.disable_account!.verify(account, ctx())).toEqual({ userId: account.id, httpStatus: 404, verify: 'gone' });
  });

  it('a user still present fails verify even with active:false', async () => {
    scim().get(`/scim/v2/Users/${account.id}`).reply(200, user(false));
    await expect(provider({ verify: 'gone' }).actions.disable_account!.verify(account, ctx())).rejects.toBeInstanceOf(VerificationError);
  });
});

describe('delete_account', () => {
  it('sends DELETE /Users/{id}; 404 afterwards proves it', async () => {
    scim()
      .get(`/scim/v2/Users/${account.id}`)
      .reply(200, user(false))
      .delete(`/scim/v2/Users/${account.id}`)
      .reply(204)
      .get(`/scim/v2/Users/${account.id}`)
      .reply(404, scimError(404, 'Resource not found'));
    const p = provider({ allowDelete: true });
    expect((await p.actions.delete_account!.execute(account, ctx())).evidence).toMatchObject({ deleted: true, alreadyDone: false });
    expect(await p.actions.delete_account!.verify(account, ctx())).toEqual({ userId: account.id, httpStatus: 404 });
  });
});

describe('OAuth client credentials', () => {
  it('posts client_credentials with client_id/client_secret and scope, then sends the issued token', async () => {
    nock(ORIGIN)
      .post('/oauth2/token', (body: Record<string, string>) => {
        expect(body).toEqual({
          grant_type: 'client_credentials',
          client_id: 'deprovisiond',
          client_secret: 'oauth-client-secret',
          scope: 'users:read users:write',
        });
        return true;
      })
      .reply(200, { access_token: 'issued-access-token', token_type: 'Bearer', expires_in: 3600 });
    scim('issued-access-token')
      .get('/scim/v2/Users')
      .query(true)
      .reply(200, list(user(true)));
    const p = provider({
      auth: {
        tokenUrl: `${ORIGIN}/oauth2/token`,
        clientId: 'deprovisiond',
        clientSecret: 'oauth-client-secret',
        scope: 'users:read users:write',
      },
    });
    expect(await p.resolve(subject, ctx())).toMatchObject({ id: account.id });
  });

  it('a token endpoint answering 429 becomes RateLimitedError with its Retry-After', async () => {
    nock(ORIGIN).post('/oauth2/token').reply(429, 'slow down', { 'Retry-After': '12' });
    const p = provider({ auth: { tokenUrl: `${ORIGIN}/oauth2/token`, clientId: 'c', clientSecret: 's' } });
    const error = await p.resolve(subject, ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(12_000);
  });
});

describe('errors', () => {
  const resolveError = async () =>
    provider()
      .resolve(subject, ctx())
      .catch((e: unknown) => e);

  it('429 with Retry-After in seconds', async () => {
    scim().get('/scim/v2/Users').query(true).reply(429, scimError(429, 'Too many requests'), { 'Retry-After': '7' });
    const error = await resolveError();
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(7000);
  });

  it('429 with Retry-After as an HTTP date, measured from the injected clock', async () => {
    scim().get('/scim/v2/Users').query(true).reply(429, '', { 'Retry-After': 'Sat, 01 Mar 2025 12:01:30 GMT' });
    expect(((await resolveError()) as RateLimitedError).retryAfterMs).toBe(90_000);
  });

  it('429 without Retry-After waits the documented default', async () => {
    scim().get('/scim/v2/Users').query(true).reply(429, '');
    expect(((await resolveError()) as RateLimitedError).retryAfterMs).toBe(DEFAULT_RATE_LIMIT_DELAY_MS);
  });

  it('401 and 403 are permanent (a static token is not retried), 500 and 503 transient', async () => {
    scim().get('/scim/v2/Users').query(true).reply(401, scimError(401, 'Authorization failure'));
    expect(await resolveError()).toBeInstanceOf(PermanentError);
    scim().get('/scim/v2/Users').query(true).reply(403, scimError(403, 'Insufficient scope'));
    expect(await resolveError()).toBeInstanceOf(PermanentError);
    scim().get('/scim/v2/Users').query(true).reply(500, scimError(500, 'oops'));
    expect(await resolveError()).toBeInstanceOf(TransientError);
    scim().get('/scim/v2/Users').query(true).reply(503, '');
    expect(await resolveError()).toBeInstanceOf(TransientError);
  });

  it('400 invalidFilter is permanent and names the scimType', async () => {
    scim()
      .get('/scim/v2/Users')
      .query(true)
      .reply(400, scimError(400, 'Filter not supported', 'invalidFilter'));
    const error = await resolveError();
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe('SCIM list Users (userName): HTTP 400: invalidFilter Filter not supported');
  });

  it('no answer is transient, and no error carries the token', async () => {
    scim()
      .get('/scim/v2/Users')
      .query(true)
      .replyWithError({ code: 'ECONNRESET', message: `reset while sending Bearer ${TOKEN}` });
    const error = await resolveError();
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).not.toContain(TOKEN);
    expect((error as Error).cause).toBeUndefined();
  });
});
