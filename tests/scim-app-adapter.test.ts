/**
 * The outbound SCIM adapter against the SCIM target emulator: filter escaping, ambiguous
 * and filter-ignoring targets, idempotent deactivation proven by the write counters,
 * both verify modes, and the OAuth client-credentials path with token renewal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../providers/contract.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import { scimConfigSchema, type ScimConfigInput } from '../providers/scim/config.ts';
import { scimModule } from '../providers/scim/index.ts';
import {
  SCIM_SANDBOX_BASE_PATH,
  SCIM_SANDBOX_CLIENT_ID,
  SCIM_SANDBOX_CLIENT_SECRET,
  SCIM_SANDBOX_TOKEN,
  startScimSandbox,
  type ScimSeedUser,
} from '../providers/scim/sandbox.ts';
import { PermanentError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext, freshSubject } from './helpers/context.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';

let sandbox: RunningSandbox;

function provider(overrides: Partial<ScimConfigInput> = {}): Provider {
  const config = scimConfigSchema.parse({
    baseUrl: `${sandbox.url}${SCIM_SANDBOX_BASE_PATH}`,
    auth: { bearerToken: SCIM_SANDBOX_TOKEN },
    ...overrides,
  });
  return scimModule.create(config, { name: 'scim-test', logger: silentLogger() });
}

const control = <T>(path: string, body?: unknown) => sandboxControl<T>(sandbox.url, path, body);

const seed = (user: ScimSeedUser) => control<{ id: string; active: boolean }>('/users', user);
const raw = (id: string) => control<{ id: string; active: boolean }>(`/users/${id}`);
const writes = async () => (await control<{ writes: Record<string, number> }>('/state')).writes;
const ctx = (subject: Subject) => actionContext(subject);

beforeAll(async () => {
  sandbox = await startScimSandbox({});
});
afterAll(async () => {
  await sandbox.close();
});

describe('resolve', () => {
  it('escapes the filter value: a userName holding `" or userName pr` matches nobody instead of everybody', async () => {
    await seed({ userName: 'victim@acme.example', emails: ['victim@acme.example'] });
    const hostile = 'x" or userName pr or userName eq "';
    // The emulator does evaluate `or` and `pr`: the unescaped filter would list every user.
    const naive = await fetch(
      `${sandbox.url}${SCIM_SANDBOX_BASE_PATH}/Users?${new URLSearchParams({ filter: `userName eq "${hostile}"` })}`,
      { headers: { authorization: `Bearer ${SCIM_SANDBOX_TOKEN}` } },
    );
    expect(((await naive.json()) as { totalResults: number }).totalResults).toBeGreaterThan(0);

    const subject: Subject = { userName: hostile, emails: [] };
    expect(await provider().resolve(subject, ctx(subject))).toBeNull();
  });

  it('finds users by userName (case-insensitive), each email in turn, or externalId', async () => {
    const user = await seed({ userName: 'Grace@Acme.example', externalId: 'HR-1906', emails: ['grace.hopper@acme.example'] });
    const bySubject: Array<[Partial<ScimConfigInput>, Subject]> = [
      [{ lookup: 'userName' }, { userName: 'grace@acme.example', emails: [] }],
      [{ lookup: 'email' }, { emails: ['nobody@acme.example', 'grace.hopper@acme.example'] }],
      [{ lookup: 'email', emailFilter: 'emails[value]' }, { emails: ['GRACE.HOPPER@acme.example'] }],
      [{ lookup: 'externalId' }, { externalId: 'HR-1906', emails: [] }],
    ];
    for (const [config, subject] of bySubject) {
      expect(await provider(config).resolve(subject, ctx(subject))).toMatchObject({ id: user.id });
    }
    // externalId is case-exact.
    const wrongCase: Subject = { externalId: 'hr-1906', emails: [] };
    expect(await provider({ lookup: 'externalId' }).resolve(wrongCase, ctx(wrongCase))).toBeNull();
  });

  it('refuses an ambiguous match', async () => {
    await seed({ userName: 'twin-a@acme.example', emails: ['shared@acme.example'] });
    await seed({ userName: 'twin-b@acme.example', emails: ['shared@acme.example'] });
    const subject: Subject = { emails: ['shared@acme.example'] };
    const error = await provider({ lookup: 'email' })
      .resolve(subject, ctx(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/2 users match.*ambiguous/);
  });

  it('refuses a user the target returned although it does not match (a target ignoring the filter)', async () => {
    const lonely = await startScimSandbox({ ignoreFilters: true });
    try {
      await fetch(`${lonely.url}/__sandbox/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userName: 'someone-else@acme.example' }),
      });
      const config = scimConfigSchema.parse({
        baseUrl: `${lonely.url}${SCIM_SANDBOX_BASE_PATH}`,
        auth: { bearerToken: SCIM_SANDBOX_TOKEN },
      });
      const p = scimModule.create(config, { name: 'scim-lonely', logger: silentLogger() });
      const subject: Subject = { userName: 'ada@acme.example', emails: [] };
      const error = await p.resolve(subject, ctx(subject)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toMatch(/does not match the filter/);
      expect(lonely.control.writes.size).toBe(0);
    } finally {
      await lonely.close();
    }
  });

  it('fails visibly when the subject lacks the attribute the target is looked up by', async () => {
    const subject: Subject = { userName: 'ada@acme.example', emails: [] };
    await expect(provider({ lookup: 'externalId' }).resolve(subject, ctx(subject))).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('disable_account', () => {
  it.each(['path', 'valueObject'] as const)('deactivates once with the %s PATCH form; a second run changes nothing', async (patchForm) => {
    const subject = freshSubject('scim');
    const user = await seed({ userName: subject.userName! });
    const p = provider({ patchForm });
    const account = (await p.resolve(subject, ctx(subject)))!;
    const first = await p.actions.disable_account!.execute(account, ctx(subject));
    expect(first.evidence).toMatchObject({ userId: user.id, previousActive: true, patchForm, alreadyDone: false });
    expect(await p.actions.disable_account!.verify(account, ctx(subject))).toMatchObject({ active: false });
    const again = await p.actions.disable_account!.execute(account, ctx(subject));
    expect(again.evidence).toMatchObject({ alreadyDone: true });
    expect((await writes())[`deactivate:${user.id}`]).toBe(1);
    expect((await raw(user.id)).active).toBe(false);
  });

  it('verify: gone fails while the target still shows the user, and passes once it answers 404', async () => {
    const subject = freshSubject('scim');
    const user = await seed({ userName: subject.userName! });
    const p = provider({ verify: 'gone' });
    const account = (await p.resolve(subject, ctx(subject)))!;
    await p.actions.disable_account!.execute(account, ctx(subject));
    // This emulator keeps deactivated users: a target configured as `gone` by mistake is caught.
    const error = await p.actions.disable_account!.verify(account, ctx(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toMatchObject({ userId: user.id, active: false });

    await control('/behaviour', { deprovision: 'gone' });
    try {
      const other = freshSubject('scim');
      const removed = await seed({ userName: other.userName! });
      const otherAccount = (await p.resolve(other, ctx(other)))!;
      await p.actions.disable_account!.execute(otherAccount, ctx(other));
      expect(await p.actions.disable_account!.verify(otherAccount, ctx(other))).toEqual({
        userId: removed.id,
        httpStatus: 404,
        verify: 'gone',
      });
      expect((await p.actions.disable_account!.execute(otherAccount, ctx(other))).evidence).toMatchObject({ alreadyDone: true });
    } finally {
      await control('/behaviour', { deprovision: 'inactive' });
    }
  });
});

describe('delete_account', () => {
  it('is not offered unless allowDelete is set', () => {
    expect(Object.keys(provider().actions)).toEqual(['disable_account']);
    expect(Object.keys(provider({ allowDelete: true }).actions).sort()).toEqual(['delete_account', 'disable_account']);
  });

  it('deletes once and proves it with a 404', async () => {
    const subject = freshSubject('scim');
    const user = await seed({ userName: subject.userName! });
    const p = provider({ allowDelete: true });
    const account = (await p.resolve(subject, ctx(subject)))!;
    expect((await p.actions.delete_account!.execute(account, ctx(subject))).evidence).toMatchObject({ alreadyDone: false });
    expect(await p.actions.delete_account!.verify(account, ctx(subject))).toEqual({ userId: user.id, httpStatus: 404 });
    expect((await p.actions.delete_account!.execute(account, ctx(subject))).evidence).toMatchObject({ alreadyDone: true });
    expect((await writes())[`delete:${user.id}`]).toBe(1);
  });
});

describe('OAuth client credentials', () => {
  const oauth = () => ({
    tokenUrl: `${sandbox.url}/oauth/token`,
    clientId: SCIM_SANDBOX_CLIENT_ID,
    clientSecret: SCIM_SANDBOX_CLIENT_SECRET,
  });

  it('fetches one token, reuses it, and fetches another after the target refuses the cached one', async () => {
    const p = provider({ auth: { ...oauth(), scope: 'users:write' } });
    const tokenRequests = () => sandbox.control.requests.filter((r) => r.path === '/oauth/token').length;
    const before = tokenRequests();
    const validateCtx = { signal: AbortSignal.timeout(5000), logger: silentLogger() };
    await p.validate!(validateCtx);
    await p.validate!(validateCtx);
    expect(tokenRequests() - before).toBe(1);
    await control('/tokens/revoke', {});
    await p.validate!(validateCtx);
    expect(tokenRequests() - before).toBe(2);
  });

  it('a wrong client secret fails validate() with a PermanentError that does not carry the secret', async () => {
    const p = provider({ auth: { ...oauth(), clientSecret: 'wrong-secret-value' } });
    const error = await p.validate!({ signal: AbortSignal.timeout(5000), logger: silentLogger() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/HTTP 401 invalid_client/);
    expect(JSON.stringify(error) + (error as Error).message).not.toContain('wrong-secret-value');
  });
});

describe('config', () => {
  it('refuses plain http except on loopback, so a token never crosses a network in clear text', () => {
    const auth = { bearerToken: 't' };
    expect(scimConfigSchema.safeParse({ baseUrl: 'http://scim.acme.example/scim/v2', auth }).success).toBe(false);
    expect(scimConfigSchema.safeParse({ baseUrl: 'http://127.0.0.1:8080/scim/v2', auth }).success).toBe(true);
    expect(scimConfigSchema.parse({ baseUrl: 'https://api.slack.com/scim/v2/', auth })).toMatchObject({
      baseUrl: 'https://api.slack.com/scim/v2',
      lookup: 'userName',
      patchForm: 'path',
      verify: 'inactive',
      allowDelete: false,
    });
  });
});
