/**
 * The Okta adapter against the Okta sandbox: the real SDK over loopback.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { oktaModule, type OktaConfig } from '../providers/okta/index.ts';
import type { OktaSeedUser } from '../providers/okta/sandbox.ts';
import { OKTA_SANDBOX_TOKEN } from '../providers/okta/sandbox.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { JsonObject, Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext, freshSubject } from './helpers/context.ts';

let sandbox: RunningSandbox;
let config: OktaConfig;
let provider: Provider;

function makeProvider(overrides: Partial<{ token: string; requestTimeoutMs: number }> = {}): Provider {
  return oktaModule.create({ ...config, ...overrides }, { name: 'okta-test', logger: silentLogger() });
}

async function control<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${sandbox.url}/__sandbox${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`sandbox ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface RawUser {
  id: string;
  status: string;
  transitioningToStatus: string | null;
  groups: Array<{ name: string; type: string }>;
  grants: string[];
  tokenClients: string[];
  factors: string[];
  roles: Array<{ type: string; assignmentType: string }>;
  passwordChanged: string | null;
}

/** Seeds a user in the given state and returns the subject and its resolved account. */
async function seeded(seed: Partial<OktaSeedUser> = {}): Promise<{ subject: Subject; account: AccountRef }> {
  const subject = freshSubject('okta');
  await control('/users', { login: subject.userName, ...seed });
  const account = await provider.resolve(subject, actionContext(subject));
  if (!account) throw new Error('seeded user did not resolve');
  return { subject, account };
}

const raw = (id: string) => control<RawUser>(`/users/${id}`);
const ctxFor = (subject: Subject, params: JsonObject = {}) => actionContext(subject, { params });
const requestsTo = async (pathPart: string) =>
  (await control<Array<{ method: string; path: string }>>('/requests')).filter((r) => r.path.includes(pathPart));

beforeAll(async () => {
  sandbox = await oktaModule.startSandbox({});
  config = oktaModule.sandboxConfig(sandbox);
  provider = makeProvider();
});
afterAll(async () => {
  await sandbox?.close();
});
beforeEach(() => {
  sandbox.control.setFaults({});
  sandbox.control.autoProvision = false;
});

describe('resolve', () => {
  it('finds the user by an email when the userName is not a login, and returns id, login, status', async () => {
    const subject = freshSubject('okta');
    const login = `second-${subject.userName}`;
    await control('/users', { login, status: 'SUSPENDED' });
    const account = await provider.resolve({ ...subject, emails: [login] }, actionContext(subject));
    expect(account).toMatchObject({ login, status: 'SUSPENDED' });
    expect(account?.id).toMatch(/^00u/);
  });

  it('returns null when no login matches', async () => {
    const subject = freshSubject('nobody');
    expect(await provider.resolve(subject, actionContext(subject))).toBeNull();
  });

  it('refuses bad credentials with PermanentError and never shows the token', async () => {
    const subject = freshSubject('okta');
    const error = await makeProvider({ token: 'wrong-secret-token' })
      .resolve(subject, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toContain('401');
    expect(JSON.stringify(error) + String(error) + String((error as Error).stack)).not.toMatch(/wrong-secret-token|SSWS/);
  });
});

describe('disable_account', () => {
  it('suspends an ACTIVE user and a read-back right after sees SUSPENDED (no stale cached user)', async () => {
    const { subject, account } = await seeded();
    const ctx = ctxFor(subject, { mode: 'suspend' });
    const result = await provider.actions.disable_account!.execute(account, ctx);
    expect(result.evidence).toMatchObject({ mode: 'suspend', previousStatus: 'ACTIVE', alreadyDone: false });
    // execute read this user by id just before suspending: a cache would answer verify with ACTIVE.
    expect(await provider.actions.disable_account!.verify(account, ctx)).toMatchObject({ status: 'SUSPENDED' });
    expect((await raw(account.id)).status).toBe('SUSPENDED');
    expect(sandbox.control.writes.get(`suspend:${account.id}`)).toBe(1);
  });

  it('never answers a read-back from a cache: a change made elsewhere is seen at once', async () => {
    const { subject, account } = await seeded();
    const ctx = ctxFor(subject);
    await expect(provider.actions.disable_account!.verify(account, ctx)).rejects.toBeInstanceOf(VerificationError);
    // Another client (another replica, or an admin) suspends the user.
    await makeProvider().actions.disable_account!.execute(account, ctx);
    expect(await provider.actions.disable_account!.verify(account, ctx)).toMatchObject({ status: 'SUSPENDED' });
  });

  it('treats an already SUSPENDED user as success without another write', async () => {
    const { subject, account } = await seeded({ status: 'SUSPENDED' });
    const result = await provider.actions.disable_account!.execute(account, ctxFor(subject));
    expect(result.evidence).toMatchObject({ alreadyDone: true, status: 'SUSPENDED' });
    expect(await requestsTo(`${account.id}/lifecycle`)).toEqual([]);
    await provider.actions.disable_account!.verify(account, ctxFor(subject));
  });

  it('treats a DEPROVISIONED user as already suspended', async () => {
    const { subject, account } = await seeded({ status: 'DEPROVISIONED' });
    const result = await provider.actions.disable_account!.execute(account, ctxFor(subject));
    expect(result.evidence).toMatchObject({ alreadyDone: true, status: 'DEPROVISIONED' });
  });

  it('refuses to suspend a user Okta cannot suspend (not ACTIVE) with PermanentError', async () => {
    const { subject, account } = await seeded({ status: 'PROVISIONED' });
    await expect(provider.actions.disable_account!.execute(account, ctxFor(subject))).rejects.toBeInstanceOf(PermanentError);
    expect(await requestsTo(`${account.id}/lifecycle`)).toEqual([]);
  });

  it('rejects an unknown mode with PermanentError', async () => {
    const { subject, account } = await seeded();
    await expect(provider.actions.disable_account!.execute(account, ctxFor(subject, { mode: 'archive' }))).rejects.toBeInstanceOf(
      PermanentError,
    );
  });

  it('deactivates in deactivate mode and waits while Okta is still transitioning', async () => {
    await control('/lifecycle', { deactivationMs: 150 });
    try {
      const { subject, account } = await seeded();
      const ctx = ctxFor(subject, { mode: 'deactivate' });
      const handler = provider.actions.disable_account!;
      const first = await handler.execute(account, ctx);
      expect(first.inProgress?.checkpoint).toMatchObject({ mode: 'deactivate' });
      expect(first.evidence).toMatchObject({ transitioningToStatus: 'DEPROVISIONED' });
      const early = await handler.verify(account, ctx).catch((e: unknown) => e);
      expect(early).toBeInstanceOf(VerificationError);
      expect((early as VerificationError).observed).toMatchObject({ transitioningToStatus: 'DEPROVISIONED' });

      const checkpoint = first.inProgress!.checkpoint;
      await vi.waitFor(
        async () => {
          const next = await handler.execute(account, { ...ctx, checkpoint });
          expect(next.inProgress).toBeUndefined();
          expect(next.evidence).toMatchObject({ status: 'DEPROVISIONED', alreadyDone: false });
        },
        { timeout: 3000, interval: 50 },
      );
      expect(await handler.verify(account, ctx)).toMatchObject({ status: 'DEPROVISIONED', transitioningToStatus: null });
      expect(sandbox.control.writes.get(`deactivate:${account.id}`)).toBe(1);
    } finally {
      await control('/lifecycle', { deactivationMs: 0 });
    }
  });

  it('deactivate mode: a retry after a lost answer finds the user DEPROVISIONED and sends no second deactivate', async () => {
    const { subject, account } = await seeded();
    const ctx = ctxFor(subject, { mode: 'deactivate' });
    const deactivate = /^\/api\/v1\/users\/[^/]+\/lifecycle\/deactivate$/;
    const mark = sandbox.control.requests.length;
    sandbox.control.loseAnswers('POST', deactivate);
    await expect(provider.actions.disable_account!.execute(account, ctx)).rejects.toBeInstanceOf(TransientError);
    const retry = await provider.actions.disable_account!.execute(account, { ...ctx, attempt: 2 });
    expect(retry.evidence).toMatchObject({ status: 'DEPROVISIONED', alreadyDone: true });
    expect(sandbox.control.countRequests('POST', deactivate, mark)).toBe(1);
  });

  it('verify throws VerificationError with the observed status when the write was a lie', async () => {
    const { subject, account } = await seeded();
    const ctx = ctxFor(subject);
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.disable_account!.execute(account, ctx);
    sandbox.control.setFaults({});
    const error = await provider.actions.disable_account!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toMatchObject({ userId: account.id, status: 'ACTIVE' });
  });
});

describe('revoke_sessions', () => {
  it('revokes sessions with their OAuth tokens and the grants; verify sees no grant and no client', async () => {
    const { subject, account } = await seeded({ grants: ['0oaportal'], tokens: ['0oamobile'] });
    const ctx = ctxFor(subject);
    await provider.actions.revoke_sessions!.execute(account, ctx);
    const after = await raw(account.id);
    expect(after.tokenClients).toEqual([]);
    expect(after.grants).toEqual([]);
    expect(await provider.actions.revoke_sessions!.verify(account, ctx)).toMatchObject({ grants: [], clients: [] });
  });

  it('verify names the grants and clients left behind by a lying sandbox', async () => {
    const { subject, account } = await seeded({ grants: ['0oaportal'], tokens: ['0oamobile'] });
    const ctx = ctxFor(subject);
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.revoke_sessions!.execute(account, ctx);
    sandbox.control.setFaults({});
    const error = await provider.actions.revoke_sessions!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    const observed = (error as VerificationError).observed as { grants: string[]; clients: string[] };
    expect(observed.grants).toHaveLength(1);
    expect(observed.clients.sort()).toEqual(['0oamobile', '0oaportal']);
  });
});

describe('remove_groups', () => {
  it('removes every OKTA_GROUP and skips Everyone and APP_GROUPs, saying so', async () => {
    const { subject, account } = await seeded({
      groups: [
        { name: 'Engineering', type: 'OKTA_GROUP' },
        { name: 'Admins', type: 'OKTA_GROUP' },
        { name: 'Salesforce Users', type: 'APP_GROUP' },
      ],
    });
    const ctx = ctxFor(subject);
    const result = await provider.actions.remove_groups!.execute(account, ctx);
    const evidence = result.evidence as { removed: Array<{ name: string }>; skipped: Array<{ name: string; type: string }> };
    expect(evidence.removed.map((g) => g.name).sort()).toEqual(['Admins', 'Engineering']);
    expect(evidence.skipped.map((g) => `${g.type}:${g.name}`).sort()).toEqual(['APP_GROUP:Salesforce Users', 'BUILT_IN:Everyone']);
    expect((await raw(account.id)).groups.map((g) => g.name).sort()).toEqual(['Everyone', 'Salesforce Users']);
    await provider.actions.remove_groups!.verify(account, ctx);
    const again = await provider.actions.remove_groups!.execute(account, ctx);
    expect(again.evidence).toMatchObject({ removed: [], alreadyDone: true });
    expect(sandbox.control.writes.get(`remove_group:${account.id}`)).toBe(2);
  });

  it('verify fails while an OKTA_GROUP membership remains', async () => {
    const { subject, account } = await seeded({ groups: [{ name: 'Engineering', type: 'OKTA_GROUP' }] });
    const error = await provider.actions.remove_groups!.verify(account, ctxFor(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toMatchObject({ remainingOktaGroups: [{ name: 'Engineering' }] });
  });
});

describe('remove_mfa', () => {
  it('resets every factor: the sandbox holds none, and a repeat reads first and sends no second reset', async () => {
    const { subject, account } = await seeded({ factors: ['push', 'token:software:totp', 'sms'] });
    const ctx = ctxFor(subject);
    const result = await provider.actions.remove_mfa!.execute(account, ctx);
    const reset = (result.evidence.factorsReset as Array<{ factorType: string }>).map((f) => f.factorType).sort();
    expect(reset).toEqual(['push', 'sms', 'token:software:totp']);
    expect((await raw(account.id)).factors).toEqual([]);
    expect(await provider.actions.remove_mfa!.verify(account, ctx)).toMatchObject({ remainingFactors: [] });
    expect((await provider.actions.remove_mfa!.execute(account, ctx)).evidence).toMatchObject({ factorsReset: [], alreadyDone: true });
    expect(sandbox.control.writes.get(`reset_factors:${account.id}`)).toBe(1);
  });

  it('verify names the factors a lying sandbox kept', async () => {
    const { subject, account } = await seeded({ factors: ['push', 'webauthn'] });
    const ctx = ctxFor(subject);
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.remove_mfa!.execute(account, ctx);
    sandbox.control.setFaults({});
    const error = await provider.actions.remove_mfa!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    const observed = (error as VerificationError).observed as { remainingFactors: Array<{ factorType: string }> };
    expect(observed.remainingFactors.map((f) => f.factorType).sort()).toEqual(['push', 'webauthn']);
  });

  it('a deactivated user: Okta refuses the reset, a PermanentError', async () => {
    const { subject, account } = await seeded({ status: 'DEPROVISIONED', factors: ['push'] });
    await expect(provider.actions.remove_mfa!.execute(account, ctxFor(subject))).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('remove_admin_roles', () => {
  it('removes each direct assignment, records them, and leaves group-held ones to remove_groups, saying so', async () => {
    const { subject, account } = await seeded({
      roles: [{ type: 'SUPER_ADMIN' }, { type: 'HELP_DESK_ADMIN' }, { type: 'REPORT_ADMIN', assignmentType: 'GROUP' }],
    });
    const ctx = ctxFor(subject);
    const result = await provider.actions.remove_admin_roles!.execute(account, ctx);
    const evidence = result.evidence as { removedRoles: Array<{ type: string; label: string }>; viaGroups: Array<{ type: string }> };
    expect(evidence.removedRoles.map((r) => r.type).sort()).toEqual(['HELP_DESK_ADMIN', 'SUPER_ADMIN']);
    expect(evidence.removedRoles.find((r) => r.type === 'SUPER_ADMIN')?.label).toBe('Super Administrator');
    expect(evidence.viaGroups.map((r) => r.type)).toEqual(['REPORT_ADMIN']);
    expect((await raw(account.id)).roles).toEqual([{ type: 'REPORT_ADMIN', assignmentType: 'GROUP' }]);
    expect(await provider.actions.remove_admin_roles!.verify(account, ctx)).toMatchObject({ remainingRoles: [] });
    const again = await provider.actions.remove_admin_roles!.execute(account, ctx);
    expect(again.evidence).toMatchObject({ removedRoles: [], alreadyDone: true });
    expect(sandbox.control.writes.get(`unassign_role:${account.id}`)).toBe(2);
  });

  it('a 429 part-way hands the roles already removed to the retry, whose evidence keeps them', async () => {
    const { subject, account } = await seeded({ roles: [{ type: 'ORG_ADMIN' }, { type: 'APP_ADMIN' }] });
    const ctx = ctxFor(subject);
    // The list and the first DELETE pass; the second DELETE is rate limited.
    let calls = 0;
    const original = sandbox.control.drawFault.bind(sandbox.control);
    sandbox.control.drawFault = (nowMs) => ((calls += 1) === 3 ? { kind: 'rate_limited', retryAfterMs: 1000 } : original(nowMs));
    const error = await provider.actions.remove_admin_roles!.execute(account, ctx).catch((e: unknown) => e);
    sandbox.control.drawFault = original;
    expect(error).toBeInstanceOf(RateLimitedError);
    const checkpoint = (error as RateLimitedError).checkpoint!;
    expect(checkpoint.removedRoles).toHaveLength(1);
    expect((await raw(account.id)).roles).toHaveLength(1);
    const retry = await provider.actions.remove_admin_roles!.execute(account, { ...ctx, attempt: 2, checkpoint });
    expect((retry.evidence.removedRoles as Array<{ type: string }>).map((r) => r.type).sort()).toEqual(['APP_ADMIN', 'ORG_ADMIN']);
    expect(retry.evidence).toMatchObject({ removedByEarlierAttempt: 1, alreadyDone: false });
    expect((await raw(account.id)).roles).toEqual([]);
  });

  it('verify fails while a direct assignment remains', async () => {
    const { subject, account } = await seeded({ roles: [{ type: 'ORG_ADMIN' }] });
    const error = await provider.actions.remove_admin_roles!.verify(account, ctxFor(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toMatchObject({ remainingRoles: [{ type: 'ORG_ADMIN', assignmentType: 'USER' }] });
  });
});

describe('reset_password', () => {
  const longAgo = '2024-01-01T00:00:00.000Z';

  it('sets a new password: the sandbox shows passwordChanged from this attempt, and nothing shows the password', async () => {
    const { subject, account } = await seeded({ passwordChanged: longAgo });
    const ctx = ctxFor(subject);
    const result = await provider.actions.reset_password!.execute(account, ctx);
    const changed = (await raw(account.id)).passwordChanged;
    expect(changed).not.toBe(longAgo);
    expect(Date.parse(changed!)).toBeGreaterThanOrEqual(ctx.attemptStartedAt.getTime() - 1000);
    const evidence = await provider.actions.reset_password!.verify(account, ctx);
    expect(evidence).toMatchObject({ passwordChanged: changed });
    // Nothing the daemon keeps could carry the password: every string in the evidence is the id, a status or a timestamp.
    const strings = Object.values({ ...result.evidence, ...evidence }).filter((v): v is string => typeof v === 'string');
    for (const value of strings) expect([account.id, 'ACTIVE'].includes(value) || !Number.isNaN(Date.parse(value)), value).toBe(true);
    expect(sandbox.control.writes.get(`set_password:${account.id}`)).toBe(1);
  });

  it('verify fails when passwordChanged predates the attempt (a lying sandbox)', async () => {
    const { subject, account } = await seeded({ passwordChanged: longAgo });
    const ctx = ctxFor(subject);
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.reset_password!.execute(account, ctx);
    sandbox.control.setFaults({});
    const error = await provider.actions.reset_password!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toMatchObject({ passwordChanged: longAgo });
  });

  it('verify fails when Okta shows no passwordChanged at all', async () => {
    const { subject, account } = await seeded({ passwordChanged: null });
    await expect(provider.actions.reset_password!.verify(account, ctxFor(subject))).rejects.toBeInstanceOf(VerificationError);
  });
});

describe('delete_account', () => {
  it('deactivates an ACTIVE user first, then deletes it; verify sees 404', async () => {
    const { subject, account } = await seeded();
    const ctx = ctxFor(subject);
    const result = await provider.actions.delete_account!.execute(account, ctx);
    expect(result.evidence).toMatchObject({ deactivatedFirst: true, deleted: true });
    expect(sandbox.control.writes.get(`deactivate:${account.id}`)).toBe(1);
    expect(sandbox.control.writes.get(`delete:${account.id}`)).toBe(1);
    expect(await provider.actions.delete_account!.verify(account, ctx)).toMatchObject({ status: 'DELETED' });
    expect(await provider.actions.delete_account!.execute(account, ctx)).toMatchObject({ evidence: { alreadyDone: true } });
  });

  it('deletes a DEPROVISIONED user directly', async () => {
    const { subject, account } = await seeded({ status: 'DEPROVISIONED' });
    const result = await provider.actions.delete_account!.execute(account, ctxFor(subject));
    expect(result.evidence).toMatchObject({ deactivatedFirst: false, deleted: true });
    expect(sandbox.control.writes.get(`deactivate:${account.id}`)).toBeUndefined();
  });

  it('does not send DELETE when the deactivation did not take (it would only deactivate)', async () => {
    const { subject, account } = await seeded();
    const ctx = ctxFor(subject);
    sandbox.control.setFaults({ lyingRate: 1 });
    const result = await provider.actions.delete_account!.execute(account, ctx);
    sandbox.control.setFaults({});
    expect(result.evidence).toMatchObject({ deleted: false, status: 'ACTIVE' });
    expect((await requestsTo(account.id)).filter((r) => r.method === 'DELETE')).toEqual([]);
    const error = await provider.actions.delete_account!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toMatchObject({ status: 'ACTIVE' });
  });
});

describe('errors', () => {
  it('turns a 429 into RateLimitedError until X-Rate-Limit-Reset', async () => {
    const subject = freshSubject('okta');
    sandbox.control.setFaults({ rateLimitRate: 1, rateLimitRetryAfterMs: 4000 });
    const error = await provider.resolve(subject, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    // The reset is rounded up to the next whole second.
    expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(3000);
    expect((error as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(5000);
  });

  it('turns a 5xx into TransientError', async () => {
    const { subject, account } = await seeded();
    sandbox.control.setFaults({ errorRate: 1 });
    const error = await provider.actions.disable_account!.execute(account, ctxFor(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toContain('500');
  });

  it('turns a request that never answers into TransientError after the request timeout', async () => {
    const subject = freshSubject('okta');
    const quick = makeProvider({ requestTimeoutMs: 200 });
    sandbox.control.setFaults({ timeoutRate: 1 });
    const started = Date.now();
    const error = await quick.resolve(subject, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('stops a request when the task is aborted', async () => {
    const subject = freshSubject('okta');
    sandbox.control.setFaults({ latencyMs: 5000 });
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    const started = Date.now();
    const error = await provider.resolve(subject, actionContext(subject, { signal: abort.signal })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('validate() passes with the sandbox token and fails with PermanentError otherwise', async () => {
    const ctx = { signal: new AbortController().signal, logger: silentLogger() };
    await provider.validate!(ctx);
    await expect(makeProvider({ token: `${OKTA_SANDBOX_TOKEN}-revoked` }).validate!(ctx)).rejects.toBeInstanceOf(PermanentError);
  });
});
