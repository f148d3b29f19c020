/**
 * The exact requests the `rest` adapter sends, asserted with nock: method, URL (values
 * URL-encoded, never able to add a segment or a parameter), headers (auth from the config,
 * the task id as Idempotency-Key on writes, templated headers), JSON bodies (values escaped
 * by JSON, not by the template); the read-first rule; polling through checkpoints; and how
 * statuses become typed errors, with no secret and no answer text in their messages.
 */
import { Readable } from 'node:stream';
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { restConfigSchema, type RestConfigInput } from '../providers/rest/config.ts';
import { restModule } from '../providers/rest/index.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { strictNock } from './helpers/strict-nock.ts';

const BASE = 'https://app.example';
const TOKEN = 'inhouse-nock-token-secret';
const NOW = new Date('2026-03-01T12:00:00.000Z');
const account: AccountRef = { id: 'ten/1?x=y' };
const subject: Subject = {
  externalId: 'C-42&admin=1',
  userName: 'ada@client.example',
  emails: ['ada@client.example'],
  displayName: 'Ada "A" L',
};
const ctx = (overrides = {}) => actionContext(subject, { now: () => NOW, taskId: 'task-7', terminationId: 'term-9', ...overrides });
const TENANT = '/api/tenants/ten%2F1%3Fx%3Dy';

const verifyDisabled = {
  request: { method: 'GET', url: '/tenants/{{account.id}}' },
  condition: 'enabled == `false`',
  evidence: { enabled: 'enabled', name: 'name' },
} as const;

function provider(overrides: Partial<RestConfigInput> = {}): Provider {
  const config = restConfigSchema.parse({
    baseUrl: `${BASE}/api`,
    auth: { type: 'bearer', token: TOKEN },
    actions: {
      disable_account: {
        request: {
          method: 'PATCH',
          url: '/tenants/{{account.id}}',
          headers: { 'X-Actor': 'deprovisiond {{terminationId}}' },
          body: { enabled: false, note: 'offboarding {{subject.displayName}}', tags: ['{{subject.externalId}}', 3, true, null] },
        },
        verify: verifyDisabled,
      },
      delete_account: {
        request: { method: 'DELETE', url: '/tenants/{{account.id}}/data' },
        verify: { request: { method: 'GET', url: '/tenants/{{account.id}}' }, condition: 'records == `0`' },
        alreadyDone: [404],
      },
      export_data: {
        request: { method: 'POST', url: '/tenants/{{account.id}}/exports' },
        poll: {
          capture: { exportId: 'id' },
          request: { method: 'GET', url: '/exports/{{job.exportId}}' },
          until: "status == 'ready'",
          failedWhen: "status == 'failed'",
          intervalMs: 2000,
          timeoutMs: 60_000,
        },
        verify: {
          request: { method: 'GET', url: '/tenants/{{account.id}}/exports' },
          condition: "length(data[?status == 'ready']) > `0`",
          evidence: { downloadLinkPresent: "data[?status == 'ready'] | [0].downloadUrl != null" },
        },
      },
    },
    ...overrides,
  });
  return restModule.create(config, { name: 'inhouse', logger: silentLogger() });
}

const api = () => nock(BASE, { reqheaders: { authorization: `Bearer ${TOKEN}`, accept: 'application/json' } });

strictNock();

describe('requests sent', () => {
  it('execute reads first, then sends the templated PATCH: URL-encoded path, headers, JSON body, Idempotency-Key', async () => {
    api().get(TENANT).reply(200, { enabled: true, name: 'Client' });
    api()
      .matchHeader('idempotency-key', 'task-7')
      .matchHeader('x-actor', 'deprovisiond term-9')
      .matchHeader('content-type', 'application/json')
      .patch(TENANT, (body) => {
        expect(body).toEqual({ enabled: false, note: 'offboarding Ada "A" L', tags: ['C-42&admin=1', 3, true, null] });
        return true;
      })
      .reply(200, { enabled: false });
    const result = await provider().actions.disable_account!.execute(account, ctx());
    expect(result).toEqual({ evidence: { status: 200 } });
  });

  it('already done at the read: nothing is sent, the evidence says so', async () => {
    api().get(TENANT).reply(200, { enabled: false, name: 'Client' });
    const result = await provider().actions.disable_account!.execute(account, ctx());
    expect(result.evidence).toEqual({ alreadyDone: true, enabled: false, name: 'Client' });
  });

  it('an alreadyDone status of the write is success', async () => {
    api().get(TENANT).reply(200, { records: 5 });
    api()
      .delete(`${TENANT}/data`)
      .reply(404, { error: { code: 'not_found' } });
    expect((await provider().actions.delete_account!.execute(account, ctx())).evidence).toEqual({ alreadyDone: true, status: 404 });
  });

  it('no Idempotency-Key on reads, and none when idempotencyHeader is null', async () => {
    api().get(TENANT).reply(200, { records: 5 });
    api()
      .delete(`${TENANT}/data`)
      .reply(function () {
        return [this.req.headers['idempotency-key'] === undefined ? 204 : 400];
      });
    await provider({ idempotencyHeader: null }).actions.delete_account!.execute(account, ctx());
  });

  it('verify reads back and returns the evidence; a condition that does not hold is a VerificationError', async () => {
    api()
      .get(TENANT)
      .reply(200, { enabled: false, name: 'x'.repeat(200) });
    const evidence = await provider().actions.disable_account!.verify(account, ctx());
    expect(evidence).toEqual({ condition: true, enabled: false, name: `${'x'.repeat(120)}…` });
    api().get(TENANT).reply(200, { enabled: true, name: 'Client' });
    await expect(provider().actions.disable_account!.verify(account, ctx())).rejects.toBeInstanceOf(VerificationError);
  });

  it('resolve: the templated look-up and the JMESPath id; empty means no account; absent statuses too', async () => {
    const p = provider({
      resolve: { request: { method: 'GET', url: '/tenants?externalId={{subject.externalId}}&by={{subject.email}}' }, id: 'data[0].id' },
    });
    api()
      .get('/api/tenants')
      .query((q) => q.externalId === 'C-42&admin=1' && q.by === 'ada@client.example' && Object.keys(q).length === 2)
      .reply(200, { data: [{ id: 'ten_1' }] });
    expect(await p.resolve(subject, ctx())).toEqual({ id: 'ten_1' });
    api().get('/api/tenants').query(true).reply(200, { data: [] });
    expect(await p.resolve(subject, ctx())).toBeNull();
    api().get('/api/tenants').query(true).reply(404);
    expect(await p.resolve(subject, ctx())).toBeNull();
    api()
      .get('/api/tenants')
      .query(true)
      .reply(200, { data: [{ id: { nested: true } }] });
    await expect(p.resolve(subject, ctx())).rejects.toBeInstanceOf(PermanentError);
  });

  it('without resolve the externalId is the account; a subject without one is refused, never matched as empty', async () => {
    expect(await provider().resolve(subject, ctx())).toEqual({ id: 'C-42&admin=1' });
    await expect(provider().resolve({ emails: ['x@y.example'] }, ctx())).rejects.toBeInstanceOf(PermanentError);
  });

  it('a template variable without a value fails the request before anything is sent', async () => {
    const p = provider({
      resolve: { request: { method: 'GET', url: '/tenants?externalId={{subject.externalId}}' }, id: 'data[0].id' },
    });
    const error = await p.resolve({ emails: [] }, ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/needs subject\.externalId/);
  });
});

describe('polling', () => {
  it('starts the job, captures its id, polls through checkpoints until it is ready, then verifies', async () => {
    const p = provider();
    api().get(`${TENANT}/exports`).reply(200, { data: [] });
    api().matchHeader('idempotency-key', 'task-7').post(`${TENANT}/exports`).reply(202, { id: 'exp/1', status: 'pending' });
    const started = await p.actions.export_data!.execute(account, ctx());
    expect(started.inProgress).toEqual({
      checkAfterMs: 2000,
      checkpoint: { job: { exportId: 'exp/1' }, startedAt: NOW.getTime(), polls: 0 },
    });

    api().get('/api/exports/exp%2F1').reply(200, { status: 'pending' });
    const pending = await p.actions.export_data!.execute(account, ctx({ checkpoint: started.inProgress!.checkpoint }));
    expect(pending.inProgress?.checkpoint).toMatchObject({ polls: 1 });

    const later = new Date(NOW.getTime() + 4000);
    api().get('/api/exports/exp%2F1').reply(200, { status: 'ready', downloadUrl: 'https://dl.example/x?token=SECRET' });
    const done = await p.actions.export_data!.execute(account, ctx({ now: () => later, checkpoint: pending.inProgress!.checkpoint }));
    expect(done).toEqual({ evidence: { requested: true, jobDone: true, polls: 2, waitedMs: 4000 } });

    api()
      .get(`${TENANT}/exports`)
      .reply(200, { data: [{ status: 'ready', downloadUrl: 'https://dl.example/x?token=SECRET' }] });
    const evidence = await p.actions.export_data!.verify(account, ctx());
    expect(evidence).toEqual({ condition: true, downloadLinkPresent: true });
    expect(JSON.stringify([started, pending, done, evidence])).not.toContain('SECRET');
  });

  it('a failed job is a PermanentError; a job past its timeout too; a lost job ends polling for the read-back to decide', async () => {
    const p = provider();
    const checkpoint = { job: { exportId: 'e1' }, startedAt: NOW.getTime(), polls: 3 };
    api().get('/api/exports/e1').reply(200, { status: 'failed' });
    await expect(p.actions.export_data!.execute(account, ctx({ checkpoint }))).rejects.toBeInstanceOf(PermanentError);
    const late = new Date(NOW.getTime() + 61_000);
    await expect(p.actions.export_data!.execute(account, ctx({ checkpoint, now: () => late }))).rejects.toBeInstanceOf(PermanentError);
    api().get('/api/exports/e1').reply(404);
    expect((await p.actions.export_data!.execute(account, ctx({ checkpoint }))).evidence).toMatchObject({ jobLost: true, polls: 4 });
  });

  it('a poll that fails transiently keeps its checkpoint, so the retry polls the same job', async () => {
    const checkpoint = { job: { exportId: 'e1' }, startedAt: NOW.getTime(), polls: 1 };
    api().get('/api/exports/e1').reply(502);
    const error = await provider()
      .actions.export_data!.execute(account, ctx({ checkpoint }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).checkpoint).toMatchObject(checkpoint);
  });

  it('an answer without the captured value is a PermanentError (nothing to poll)', async () => {
    api().get(`${TENANT}/exports`).reply(200, { data: [] });
    api().post(`${TENANT}/exports`).reply(202, { status: 'pending' });
    await expect(provider().actions.export_data!.execute(account, ctx())).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('errors from statuses', () => {
  const read = () => api().get(TENANT);
  const run = () =>
    provider()
      .actions.disable_account!.verify(account, ctx())
      .catch((e: unknown) => e);

  it('429 with Retry-After and 503 with Retry-After are rate limits with that delay; 429 without one takes the default', async () => {
    read().reply(429, {}, { 'Retry-After': '7' });
    expect(await run()).toMatchObject({ retryAfterMs: 7000 });
    read().reply(503, {}, { 'Retry-After': '3' });
    const unavailable = await run();
    expect(unavailable).toBeInstanceOf(RateLimitedError);
    expect(unavailable).toMatchObject({ retryAfterMs: 3000 });
    read().reply(429);
    expect(await run()).toMatchObject({ retryAfterMs: 1000 });
  });

  it('5xx and no answer are transient; other 4xx permanent; messages hold no secret, URL or answer text', async () => {
    read().reply(500, { error: { message: `echo ${TOKEN}` } });
    const server = await run();
    expect(server).toBeInstanceOf(TransientError);
    read().replyWithError({ code: 'ECONNRESET' });
    expect(await run()).toBeInstanceOf(TransientError);
    read().reply(403, { error: { message: `echo ${TOKEN}` } });
    const refused = await run();
    expect(refused).toBeInstanceOf(PermanentError);
    expect((refused as Error).message).toBe('inhouse disable_account verify: HTTP 403');
    for (const e of [server, refused]) {
      expect((e as Error).message).not.toContain(TOKEN);
      expect((e as Error).message).not.toContain('ten');
    }
  });

  it('an answer larger than maxResponseBytes is refused without being held whole', async () => {
    read().reply(200, { enabled: false, padding: 'x'.repeat(5000) });
    const error = await provider({ maxResponseBytes: 1024 })
      .actions.disable_account!.verify(account, ctx())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/exceeds 1024 bytes/);
  });

  it('a streamed answer without Content-Length is cut off at the bound too', async () => {
    const chunks = Array.from({ length: 50 }, () => Buffer.from('x'.repeat(100)));
    read().reply(200, () => Readable.from(chunks));
    const error = await provider({ maxResponseBytes: 1024 })
      .actions.disable_account!.verify(account, ctx())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
  });

  it('a header auth sends the configured header instead of a bearer token', async () => {
    nock(BASE, { badheaders: ['authorization'], reqheaders: { 'x-api-key': 'key-secret' } })
      .get('/api/me')
      .reply(200, {});
    const p = provider({ auth: { type: 'header', name: 'X-Api-Key', value: 'key-secret' }, probe: { method: 'GET', url: '/me' } });
    await p.validate!({ signal: AbortSignal.timeout(5000), logger: silentLogger() });
    nock(BASE).get('/api/me').reply(401);
    await expect(p.validate!({ signal: AbortSignal.timeout(5000), logger: silentLogger() })).rejects.toBeInstanceOf(PermanentError);
  });
});
