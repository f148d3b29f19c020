/**
 * The Slack adapter against its emulator, beyond the conformance suite: Grid users in two
 * workspaces, SCIM 1.1, tokens of the wrong type or without a scope (and what the operator
 * is told), absent users, rate limits on a write, and read-backs that catch a lying Slack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../providers/contract.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import { slackConfigSchema, type SlackConfig, type SlackConfigInput } from '../providers/slack/config.ts';
import { slackModule } from '../providers/slack/index.ts';
import { SLACK_SANDBOX_BOT_TOKEN, SLACK_SANDBOX_TOKEN, type SlackSeedUser } from '../providers/slack/sandbox.ts';
import { PermanentError, RateLimitedError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext, freshSubject } from './helpers/context.ts';

let sandbox: RunningSandbox;
let base: SlackConfig;

beforeAll(async () => {
  sandbox = await slackModule.startSandbox({ autoProvision: false });
  base = slackModule.sandboxConfig(sandbox);
});
afterAll(async () => {
  await sandbox.close();
});

function provider(overrides: Partial<SlackConfigInput> = {}): Provider {
  return slackModule.create(slackConfigSchema.parse({ ...base, ...overrides }), { name: 'slack-test', logger: silentLogger() });
}

async function control(path: string, body: unknown): Promise<Response> {
  const response = await fetch(`${sandbox.url}/__sandbox${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`sandbox control ${path}: ${response.status}`);
  return response;
}

async function seed(input: Omit<SlackSeedUser, 'email'> = {}): Promise<Subject> {
  const subject = freshSubject('slack');
  await control('/users', { email: subject.emails[0], ...input });
  return subject;
}

async function sandboxUser(id: string): Promise<{ deleted: boolean; sessions: unknown[]; enterprise_user: { teams: string[] } }> {
  return (await (await fetch(`${sandbox.url}/__sandbox/users/${id}`)).json()) as never;
}

describe('Slack adapter on Enterprise Grid', () => {
  it('signs a user in two workspaces out of both and reads every workspace back', async () => {
    const subject = await seed({ teams: ['T0AAA', 'T0BBB'], sessionsPerTeam: 2 });
    const p = provider();
    const ctx = actionContext(subject);
    const account = (await p.resolve(subject, ctx))!;
    expect(account).toMatchObject({ teams: ['T0AAA', 'T0BBB'], deleted: false });
    expect((await sandboxUser(account.id)).sessions).toHaveLength(4);
    await p.actions.revoke_sessions!.execute(account, ctx);
    expect(await p.actions.revoke_sessions!.verify(account, ctx)).toEqual({
      userId: account.id,
      workspacesChecked: ['T0AAA', 'T0BBB'],
      activeSessions: 0,
    });
  });

  it('admin_remove takes the user out of every workspace; verify sees none left', async () => {
    const subject = await seed({ teams: ['T0AAA', 'T0BBB'] });
    const p = provider({ disableMode: 'admin_remove' });
    const ctx = actionContext(subject);
    const account = (await p.resolve(subject, ctx))!;
    const { evidence } = await p.actions.disable_account!.execute(account, ctx);
    expect(evidence).toMatchObject({ mode: 'admin_remove', removedFrom: ['T0AAA', 'T0BBB'], alreadyDone: false });
    expect(await p.actions.disable_account!.verify(account, ctx)).toEqual({
      userId: account.id,
      mode: 'admin_remove',
      deleted: false,
      workspaces: [],
    });
    expect(sandbox.control.writes.get(`remove_from_workspace:${account.id}`)).toBe(2);
    // Removed from every workspace: no workspace is left to list sessions in, and the proof says so.
    expect((await p.actions.revoke_sessions!.verify({ ...account, teams: [] }, ctx)).sessions).toMatch(/^not verifiable: /);
  });

  it('a lying admin.users.remove is caught by the read-back', async () => {
    const subject = await seed({ teams: ['T0AAA'] });
    const p = provider({ disableMode: 'admin_remove' });
    const ctx = actionContext(subject);
    const account = (await p.resolve(subject, ctx))!;
    sandbox.control.setFaults({ lyingRate: 1 });
    try {
      await p.actions.disable_account!.execute(account, ctx);
    } finally {
      sandbox.control.setFaults({});
    }
    const error = await p.actions.disable_account!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toMatchObject({ deleted: false, workspaces: ['T0AAA'] });
  });
});

describe('Slack adapter with SCIM', () => {
  it('deactivates through SCIM 1.1 too, and the Web API then shows the user deleted and signed out', async () => {
    const subject = await seed();
    const p = provider({ scim: { ...base.scim!, version: 'v1', baseUrl: `${sandbox.url}/scim/v1` } });
    const ctx = actionContext(subject);
    const account = (await p.resolve(subject, ctx))!;
    expect((await p.actions.disable_account!.execute(account, ctx)).evidence).toMatchObject({ activeBefore: true });
    expect(await p.actions.disable_account!.verify(account, ctx)).toEqual({
      userId: account.id,
      mode: 'scim_patch',
      scimActive: false,
      deleted: true,
    });
    expect(await sandboxUser(account.id)).toMatchObject({ deleted: true, sessions: [] });
  });

  it('a lying SCIM PATCH is caught: SCIM still shows the user active', async () => {
    const subject = await seed();
    const p = provider();
    const ctx = actionContext(subject);
    const account = (await p.resolve(subject, ctx))!;
    sandbox.control.setFaults({ lyingRate: 1 });
    try {
      expect((await p.actions.disable_account!.execute(account, ctx)).evidence).toMatchObject({ alreadyDone: false });
    } finally {
      sandbox.control.setFaults({});
    }
    const error = await p.actions.disable_account!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({ userId: account.id, mode: 'scim_patch', scimActive: true });
  });

  it('a rate-limited write changes nothing and reports the delay Slack asked for', async () => {
    const subject = await seed();
    const p = provider();
    const ctx = actionContext(subject);
    const account = (await p.resolve(subject, ctx))!;
    sandbox.control.setFaults({ rateLimitRate: 1, rateLimitRetryAfterMs: 5000 });
    let error: unknown;
    try {
      error = await p.actions.revoke_sessions!.execute(account, ctx).catch((e: unknown) => e);
    } finally {
      sandbox.control.setFaults({});
    }
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(5000);
    expect((await sandboxUser(account.id)).sessions).toHaveLength(1);
  });
});

describe('absent users and hostile subjects', () => {
  it('no account for the email resolves to null; a user gone before the action is already done', async () => {
    const p = provider();
    const missing = freshSubject('nobody');
    expect(await p.resolve(missing, actionContext(missing))).toBeNull();
    const ctx = actionContext(missing);
    expect((await p.actions.revoke_sessions!.execute({ id: 'W0GONE' }, ctx)).evidence).toEqual({
      userId: 'W0GONE',
      found: false,
      alreadyDone: true,
    });
    expect(await p.actions.disable_account!.verify({ id: 'W0GONE' }, ctx)).toEqual({ userId: 'W0GONE', mode: 'scim_patch', found: false });
  });

  it('refuses a subject without a usable email, and an email that belongs to a bot', async () => {
    const p = provider();
    const noEmail: Subject = { externalId: 'x', emails: ['not an email', 'a@b@c'] };
    await expect(p.resolve(noEmail, actionContext(noEmail))).rejects.toBeInstanceOf(PermanentError);
    const bot = await seed({ isBot: true });
    await expect(p.resolve(bot, actionContext(bot))).rejects.toThrow(/bot user/);
  });
});

describe('what the operator is told about tokens', () => {
  it('a wrong token fails validate with a permanent error naming the token setting, not the token', async () => {
    const error = await provider({ token: 'xoxp-wrong-secret-value' }).validate!({
      signal: AbortSignal.timeout(5000),
      logger: silentLogger(),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe(
      'Slack auth.test: invalid_auth: the Web API token (providers.<name>.token) is missing, revoked or invalid',
    );
  });

  it('a bot token is refused by admin.* methods: the message asks for an Org admin user token', async () => {
    const subject = await seed();
    const p = provider({ token: SLACK_SANDBOX_BOT_TOKEN });
    const ctx = actionContext(subject);
    const account = (await p.resolve(subject, ctx))!;
    await expect(p.actions.revoke_sessions!.execute(account, ctx)).rejects.toThrow(/not_allowed_token_type: .*user token \(xoxp-\)/);
  });

  it('a token without admin.users:write: missing_scope names it; one without users:read.email fails validate', async () => {
    await control('/tokens', { token: 'xoxp-narrow', type: 'user', scopes: ['users:read', 'users:read.email', 'admin.users:read'] });
    const subject = await seed();
    const p = provider({ token: 'xoxp-narrow' });
    const ctx = actionContext(subject);
    const account = (await p.resolve(subject, ctx))!;
    await expect(p.actions.revoke_sessions!.execute(account, ctx)).rejects.toThrow(
      'Slack admin.users.session.reset: missing_scope: the token lacks scope admin.users:write (it has: users:read,users:read.email,admin.users:read)',
    );
    await control('/tokens', { token: 'xoxp-no-email', type: 'user', scopes: ['users:read'] });
    await expect(
      provider({ token: 'xoxp-no-email' }).validate!({ signal: AbortSignal.timeout(5000), logger: silentLogger() }),
    ).rejects.toThrow('Slack auth.test: the token lacks scope users:read.email (needed to find people)');
  });

  it('the default token passes validate, SCIM probe included', async () => {
    await provider({ token: SLACK_SANDBOX_TOKEN }).validate!({ signal: AbortSignal.timeout(5000), logger: silentLogger() });
    const scimRefused = provider({ scim: { ...base.scim!, token: SLACK_SANDBOX_TOKEN } });
    // The Web API token lacks SCIM's `admin` scope: SCIM answers 401.
    await expect(scimRefused.validate!({ signal: AbortSignal.timeout(5000), logger: silentLogger() })).rejects.toThrow(
      'Slack SCIM list Users (probe): HTTP 401: invalid_authentication',
    );
  });
});

describe('config', () => {
  it('scim modes need a scim block', () => {
    const parsed = slackConfigSchema.safeParse({ token: 't', disableMode: 'scim_patch' });
    expect(parsed.success).toBe(false);
    expect(slackConfigSchema.parse({ token: 't', disableMode: 'admin_remove' }).apiUrl).toBe('https://slack.com/api');
    expect(slackConfigSchema.safeParse({ token: 't', disableMode: 'admin_remove', apiUrl: 'http://slack.example/api' }).success).toBe(
      false,
    );
  });
});

describe('the emulator speaks the Web API wire format', () => {
  const post = (method: string, body: string, headers: Record<string, string>) =>
    fetch(`${sandbox.url}/api/${method}`, { method: 'POST', headers, body }).then(async (r) => ({
      status: r.status,
      scopes: r.headers.get('x-oauth-scopes'),
      body: (await r.json()) as Record<string, unknown>,
    }));

  it('takes the token as a form parameter or a Bearer header, and never from a JSON body', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const json = { 'content-type': 'application/json' };
    expect(await post('auth.test', `token=${SLACK_SANDBOX_TOKEN}`, form)).toMatchObject({
      status: 200,
      scopes: 'users:read,users:read.email,admin.users:read,admin.users:write',
      body: { ok: true },
    });
    expect(await post('auth.test', JSON.stringify({ token: SLACK_SANDBOX_TOKEN }), json)).toMatchObject({
      status: 200,
      body: { ok: false, error: 'not_authed' },
    });
    expect(
      await post('users.info', JSON.stringify({ user: 'W0NONE' }), { ...json, authorization: `Bearer ${SLACK_SANDBOX_TOKEN}` }),
    ).toMatchObject({ status: 200, body: { ok: false, error: 'user_not_found' } });
    expect(await post('users.list', '', { ...form, authorization: `Bearer ${SLACK_SANDBOX_TOKEN}` })).toMatchObject({
      body: { ok: false, error: 'unknown_method' },
    });
  });
});
