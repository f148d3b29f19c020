/**
 * The Microsoft adapter against its sandbox: real SDK, real token endpoint round trip,
 * state read back from the sandbox's control API rather than from the adapter's word.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { microsoftModule, type MicrosoftConfig } from '../providers/microsoft/index.ts';
import {
  microsoftUserState,
  SANDBOX_CLIENT_ID,
  SANDBOX_CLIENT_SECRET,
  SANDBOX_TENANT_ID,
  seedMicrosoftUser,
  startMicrosoftSandbox,
} from '../providers/microsoft/sandbox.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { JsonObject, Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';

let sandbox: RunningSandbox;
let config: MicrosoftConfig;
let provider: Provider;
let counter = 0;

function upn(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}@contoso.example`;
}

function subjectFor(userName: string, extra: Partial<Subject> = {}): Subject {
  return { userName, emails: [userName], ...extra };
}

function build(overrides: Partial<MicrosoftConfig> = {}): Provider {
  return microsoftModule.create({ ...config, ...overrides }, { name: 'entra', logger: silentLogger() });
}

async function seeded(prefix: string, input: Omit<Parameters<typeof seedMicrosoftUser>[1], 'userPrincipalName'> = {}) {
  const name = upn(prefix);
  const user = await seedMicrosoftUser(sandbox.url, { userPrincipalName: name, ...input });
  const account: AccountRef = { id: user.id, userPrincipalName: name };
  return { user, account, subject: subjectFor(name) };
}

function requestsTo(path: RegExp, method?: string) {
  return sandbox.control.requests.filter((r) => path.test(r.path) && (!method || r.method === method));
}

async function sandboxToken(): Promise<string> {
  const response = await fetch(`${sandbox.url}/${SANDBOX_TENANT_ID}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: SANDBOX_CLIENT_ID,
      client_secret: SANDBOX_CLIENT_SECRET,
      scope: 'https://graph.microsoft.com/.default',
    }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  // Page size 1: every membership list spans several pages, so nextLink is followed for real.
  sandbox = await startMicrosoftSandbox({ pageSize: 1 });
  config = microsoftModule.sandboxConfig(sandbox);
  provider = build();
});
afterAll(async () => {
  await sandbox?.close();
});
afterEach(() => {
  sandbox.control.setFaults({});
  sandbox.control.autoProvision = false;
});

describe('auth', () => {
  it('the sandbox refuses Graph calls without a valid token', async () => {
    const none = await fetch(`${sandbox.url}/v1.0/users?$top=1`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('InvalidAuthenticationToken');
    const forged = await fetch(`${sandbox.url}/v1.0/users?$top=1`, { headers: { authorization: 'Bearer forged' } });
    expect(forged.status).toBe(401);
  });

  it('validate() fetches a client-credentials token and reads users with it (plain http)', async () => {
    const fresh = build();
    sandbox.control.reset();
    await fresh.validate!({ signal: new AbortController().signal, logger: silentLogger() });
    const log = sandbox.control.requests.map((r) => `${r.method} ${r.path} ${r.status}`);
    expect(log).toEqual([`POST /${SANDBOX_TENANT_ID}/oauth2/v2.0/token 200`, 'GET /v1.0/users 200']);
  });

  it('a wrong secret fails validate() with a PermanentError that does not carry the secret', async () => {
    const bad = build({ clientSecret: 'wrong-secret-value' });
    const error = await bad.validate!({ signal: new AbortController().signal, logger: silentLogger() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toContain('AADSTS7000215');
    expect(JSON.stringify(error) + (error as Error).message).not.toContain('wrong-secret-value');
  });

  it('reuses one token for many calls', async () => {
    const fresh = build();
    sandbox.control.reset();
    const { subject } = await seeded('reuse');
    for (let i = 0; i < 3; i += 1) await fresh.resolve(subject, actionContext(subject));
    expect(requestsTo(/oauth2\/v2\.0\/token$/)).toHaveLength(1);
    expect(requestsTo(/^\/v1\.0\/users\//, 'GET')).toHaveLength(3);
  });
});

describe('resolve', () => {
  it('finds a user by userName (UPN)', async () => {
    const { user, subject } = await seeded('byupn');
    expect(await provider.resolve(subject, actionContext(subject))).toEqual({ id: user.id, userPrincipalName: user.userPrincipalName });
  });

  it('falls back to the emails when userName is not a UPN', async () => {
    const { user } = await seeded('byemail');
    const subject: Subject = { userName: 'jdoe', emails: ['nobody@contoso.example', user.userPrincipalName] };
    expect((await provider.resolve(subject, actionContext(subject)))?.id).toBe(user.id);
  });

  it('falls back to $filter mail eq when the mail differs from the UPN', async () => {
    const mail = upn("o'brien.mail");
    const { user } = await seeded('bymail', { mail });
    const subject: Subject = { emails: [mail] };
    sandbox.control.reset();
    expect((await provider.resolve(subject, actionContext(subject)))?.id).toBe(user.id);
    // One direct lookup (404), then the filter.
    expect(sandbox.control.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      `GET /v1.0/users/${encodeURIComponent(mail)} 404`,
      'GET /v1.0/users 200',
    ]);
  });

  it('answers null when no identifier matches', async () => {
    const subject = subjectFor(upn('ghost'));
    expect(await provider.resolve(subject, actionContext(subject))).toBeNull();
  });
});

describe('revoke_sessions', () => {
  it('verify fails before the revocation and passes after it, on whole seconds', async () => {
    const { account, subject } = await seeded('revoke');
    const ctx = actionContext(subject);
    const before = await provider.actions.revoke_sessions!.verify(account, ctx).catch((e: unknown) => e);
    expect(before).toBeInstanceOf(VerificationError);
    expect((before as VerificationError).observed).toHaveProperty('signInSessionsValidFromDateTime');

    await provider.actions.revoke_sessions!.execute(account, ctx);
    expect(sandbox.control.writes.get(`revoke_sessions:${account.id}`)).toBe(1);
    const evidence = await provider.actions.revoke_sessions!.verify(account, ctx);
    expect(evidence.signInSessionsValidFromDateTime).toBeTypeOf('string');
    const validFrom = Date.parse(evidence.signInSessionsValidFromDateTime as string);
    // Graph keeps whole seconds: an attempt that started later in the same second still passes...
    const sameSecond = new Date(validFrom + 999);
    await provider.actions.revoke_sessions!.verify(account, { ...ctx, attemptStartedAt: sameSecond });
    // ...and one that started in the next second does not.
    const nextSecond = new Date(validFrom + 1000);
    await expect(provider.actions.revoke_sessions!.verify(account, { ...ctx, attemptStartedAt: nextSecond })).rejects.toBeInstanceOf(
      VerificationError,
    );
  });

  it('a 429 on the POST is sent once and becomes RateLimitedError (no SDK RetryHandler)', async () => {
    const { account, subject } = await seeded('revoke429');
    const fresh = build();
    await fresh.resolve(subject, actionContext(subject)); // token fetched before the faults start
    sandbox.control.reset();
    sandbox.control.setFaults({ rateLimitRate: 1, rateLimitRetryAfterMs: 3000 });
    const error = await fresh.actions.revoke_sessions!.execute(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(3000);
    expect(requestsTo(/revokeSignInSessions$/, 'POST')).toHaveLength(1);
  });

  it('a 503 without Retry-After is sent once and becomes TransientError', async () => {
    const { account, subject } = await seeded('revoke503');
    await provider.resolve(subject, actionContext(subject));
    sandbox.control.reset();
    sandbox.control.setFaults({ errorRate: 1 });
    const error = await provider.actions.revoke_sessions!.execute(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(requestsTo(/revokeSignInSessions$/, 'POST')).toHaveLength(1);
  });
});

describe('revoke_sessions: delegated permission grants', () => {
  it('an autoProvisioned leaver has a grant; execute deletes it, as the sandbox shows, and verify lists none', async () => {
    sandbox.control.autoProvision = true;
    const subject = subjectFor(upn('grants'));
    const ref = await provider.resolve(subject, actionContext(subject));
    expect(ref).not.toBeNull();
    const account = ref!;
    expect((await microsoftUserState(sandbox.url, account.id))?.permissionGrants).toEqual(['openid profile offline_access Mail.Read']);
    const ctx = actionContext(subject);
    const result = await provider.actions.revoke_sessions!.execute(account, ctx);
    expect(result.evidence).toMatchObject({ revokeSignInSessions: 'sent', removedGrantCount: 1 });
    expect(result.evidence.removedGrants).toEqual([
      { id: expect.any(String), clientId: expect.any(String), scopes: ['openid', 'profile', 'offline_access', 'Mail.Read'] },
    ]);
    expect((await microsoftUserState(sandbox.url, account.id))?.permissionGrants).toEqual([]);
    expect(await provider.actions.revoke_sessions!.verify(account, ctx)).toMatchObject({ remainingGrants: 0 });
  });

  it('a retry carrying the checkpoint deletes the grants without sending revokeSignInSessions again', async () => {
    // The state an earlier attempt left: sessions revoked at `revokedAt`, grants still there.
    const revokedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    const { account, subject } = await seeded('grants-retry', {
      signInSessionsValidFromDateTime: revokedAt.toISOString(),
      permissionGrants: [{ scope: 'Files.Read' }, { scope: 'Mail.Send' }],
    });
    sandbox.control.reset();
    const retry = actionContext(subject, {
      attempt: 2,
      attemptStartedAt: new Date(revokedAt.getTime() + 60_000),
      checkpoint: { sessionsRevokedSince: revokedAt.toISOString(), removedGrants: [] },
    });
    const result = await provider.actions.revoke_sessions!.execute(account, retry);
    expect(requestsTo(/revokeSignInSessions$/, 'POST')).toHaveLength(0);
    expect(result.evidence).toMatchObject({ revokeSignInSessions: 'sent by an earlier attempt', removedGrantCount: 2 });
    expect((await microsoftUserState(sandbox.url, account.id))?.permissionGrants).toEqual([]);
    // Verify reads the sessions against the earlier revoke, not this attempt's later start.
    expect(await provider.actions.revoke_sessions!.verify(account, retry)).toMatchObject({ remainingGrants: 0 });
  });

  it('a sandbox that answers 204 without deleting the grant fails verify, naming the grant', async () => {
    const revokedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    const { account, subject } = await seeded('grants-lie', {
      signInSessionsValidFromDateTime: revokedAt.toISOString(),
      permissionGrants: [{ scope: 'Mail.Read' }],
    });
    const ctx = actionContext(subject, { checkpoint: { sessionsRevokedSince: revokedAt.toISOString() } });
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.revoke_sessions!.execute(account, ctx);
    sandbox.control.setFaults({});
    expect((await microsoftUserState(sandbox.url, account.id))?.permissionGrants).toEqual(['Mail.Read']);
    const error = await provider.actions.revoke_sessions!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed.remainingGrants).toEqual([
      { id: expect.any(String), clientId: expect.any(String), scopes: ['Mail.Read'] },
    ]);
  });
});

describe('reset_password', () => {
  it('the sandbox records the change time only; verify passes after execute and not before', async () => {
    const { account, subject } = await seeded('pw');
    const ctx = actionContext(subject);
    const before = (await microsoftUserState(sandbox.url, account.id))!.lastPasswordChangeDateTime;
    await expect(provider.actions.reset_password!.verify(account, ctx)).rejects.toBeInstanceOf(VerificationError);
    const result = await provider.actions.reset_password!.execute(account, ctx);
    const after = (await microsoftUserState(sandbox.url, account.id))!;
    expect(Date.parse(after.lastPasswordChangeDateTime)).toBeGreaterThan(Date.parse(before));
    expect(sandbox.control.writes.get(`reset_password:${account.id}`)).toBe(1);
    expect(JSON.stringify(after)).not.toMatch(/password"/i);
    expect(await provider.actions.reset_password!.verify(account, ctx)).toMatchObject({
      lastPasswordChangeDateTime: after.lastPasswordChangeDateTime,
    });
    expect(result.evidence).not.toHaveProperty('password');
  });

  it('a sandbox that answers 204 without changing the password fails verify', async () => {
    const { account, subject } = await seeded('pw-lie');
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.reset_password!.execute(account, actionContext(subject));
    sandbox.control.setFaults({});
    await expect(provider.actions.reset_password!.verify(account, actionContext(subject))).rejects.toBeInstanceOf(VerificationError);
  });

  it('the sandbox refuses a weak or malformed passwordProfile, as Entra does', async () => {
    const { account } = await seeded('pw-weak');
    const token = await sandboxToken();
    for (const passwordProfile of [{ password: 'short1A' }, { password: 'alllowercaseletters' }, { password: 42 }, 'x']) {
      const response = await fetch(`${sandbox.url}/v1.0/users/${account.id}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ passwordProfile }),
      });
      expect(response.status).toBe(400);
    }
    expect(sandbox.control.writes.get(`reset_password:${account.id}`)).toBeUndefined();
  });
});

describe('disable_account', () => {
  it('patches once, then reports alreadyDone without writing', async () => {
    const { account, subject } = await seeded('disable');
    const ctx = actionContext(subject);
    await expect(provider.actions.disable_account!.verify(account, ctx)).rejects.toBeInstanceOf(VerificationError);
    const first = await provider.actions.disable_account!.execute(account, ctx);
    expect(first.evidence.alreadyDone).toBe(false);
    expect((await microsoftUserState(sandbox.url, account.id))?.accountEnabled).toBe(false);
    const again = await provider.actions.disable_account!.execute(account, ctx);
    expect(again.evidence.alreadyDone).toBe(true);
    expect(sandbox.control.writes.get(`update_user:${account.id}`)).toBe(1);
    expect(await provider.actions.disable_account!.verify(account, ctx)).toEqual({ accountEnabled: false });
  });
});

describe('remove_groups', () => {
  it('the sandbox arms the trap: DELETE .../members/{uid} without /$ref deletes the user', async () => {
    const { user } = await seeded('trap', { groups: [{}] });
    const token = await sandboxToken();
    const response = await fetch(`${sandbox.url}/v1.0/groups/${user.groupIds[0]}/members/${user.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(204);
    expect((await microsoftUserState(sandbox.url, user.id))?.deleted).toBe(true);
  });

  it('removes assigned memberships across pages, skips dynamic groups and roles, and never deletes the user', async () => {
    const { user, account, subject } = await seeded('groups', {
      groups: [{ displayName: 'Engineering' }, { displayName: 'Sales (dynamic)', dynamic: true }, { displayName: 'VPN users' }],
      directoryRoles: ['Helpdesk Administrator'],
    });
    const ctx = actionContext(subject);
    await expect(provider.actions.remove_groups!.verify(account, ctx)).rejects.toBeInstanceOf(VerificationError);

    const result = await provider.actions.remove_groups!.execute(account, ctx);
    expect((result.evidence.removed as Array<{ id: string }>).map((g) => g.id).sort()).toEqual([...user.groupIds].sort());
    expect(result.evidence.skipped).toEqual([
      { id: user.dynamicGroupIds[0], displayName: 'Sales (dynamic)', reason: 'dynamic membership rule' },
    ]);
    expect(result.evidence.alreadyDone).toBe(false);

    // The user object survives: not deleted, still resolvable, only the dynamic membership left.
    const state = await microsoftUserState(sandbox.url, user.id);
    expect(state?.deleted).toBe(false);
    expect(state?.groupIds).toEqual(user.dynamicGroupIds);
    expect(sandbox.control.writes.get(`delete_user:${user.id}`)).toBeUndefined();
    expect(sandbox.control.writes.get(`remove_group_member:${user.id}`)).toBe(2);
    expect((await provider.resolve(subject, ctx))?.id).toBe(user.id);

    expect(await provider.actions.remove_groups!.verify(account, ctx)).toEqual({
      assignedGroupsRemaining: 0,
      dynamicGroups: [{ id: user.dynamicGroupIds[0], displayName: 'Sales (dynamic)' }],
    });
    const again = await provider.actions.remove_groups!.execute(account, ctx);
    expect(again.evidence.alreadyDone).toBe(true);
    expect(sandbox.control.writes.get(`remove_group_member:${user.id}`)).toBe(2);
  });
});

describe('transfer_files', () => {
  it('gives the manager write access to the OneDrive once, then reports alreadyDone', async () => {
    const manager = await seedMicrosoftUser(sandbox.url, { userPrincipalName: upn('manager') });
    const { account, subject: base } = await seeded('leaver');
    const subject: Subject = { ...base, manager: { email: manager.userPrincipalName } };
    const ctx = actionContext(subject);
    await expect(provider.actions.transfer_files!.verify(account, ctx)).rejects.toBeInstanceOf(VerificationError);

    const first = await provider.actions.transfer_files!.execute(account, ctx);
    expect(first.evidence).toMatchObject({ grantedTo: manager.userPrincipalName, ownerSource: 'manager', alreadyDone: false });
    const state = await microsoftUserState(sandbox.url, account.id);
    expect(state?.drivePermissions).toContainEqual({ email: manager.userPrincipalName, roles: ['write'] });

    const again = await provider.actions.transfer_files!.execute(account, ctx);
    expect(again.evidence.alreadyDone).toBe(true);
    expect(sandbox.control.writes.get(`grant_drive_access:${account.id}`)).toBe(1);
    expect(await provider.actions.transfer_files!.verify(account, ctx)).toMatchObject({
      grantedTo: manager.userPrincipalName,
      roles: ['write'],
    });
  });

  it('uses fallbackOwner when the subject has no manager', async () => {
    const owner = await seedMicrosoftUser(sandbox.url, { userPrincipalName: upn('it-archive') });
    const withFallback = build({ fallbackOwner: owner.userPrincipalName });
    const { account, subject } = await seeded('orphan');
    const result = await withFallback.actions.transfer_files!.execute(account, actionContext(subject));
    expect(result.evidence).toMatchObject({ grantedTo: owner.userPrincipalName, ownerSource: 'fallbackOwner' });
    await withFallback.actions.transfer_files!.verify(account, actionContext(subject));
  });

  it('fails with PermanentError when there is no manager and no fallbackOwner, writing nothing', async () => {
    const { account, subject } = await seeded('nomanager');
    await expect(provider.actions.transfer_files!.execute(account, actionContext(subject))).rejects.toBeInstanceOf(PermanentError);
    expect(sandbox.control.writes.get(`grant_drive_access:${account.id}`)).toBeUndefined();
  });

  it('skips a user without a OneDrive', async () => {
    const manager = await seedMicrosoftUser(sandbox.url, { userPrincipalName: upn('mgr') });
    const { account, subject } = await seeded('nodrive', { drive: false });
    const result = await provider.actions.transfer_files!.execute(
      account,
      actionContext({ ...subject, manager: { email: manager.userPrincipalName } }),
    );
    expect(result.skipped).toBeTruthy();
  });
});

describe('delete_account', () => {
  it('soft-deletes once, treats an already deleted user as done, and verifies by 404', async () => {
    const { account, subject } = await seeded('delete');
    const ctx = actionContext(subject);
    await expect(provider.actions.delete_account!.verify(account, ctx)).rejects.toBeInstanceOf(VerificationError);
    expect((await provider.actions.delete_account!.execute(account, ctx)).evidence.alreadyDone).toBe(false);
    expect((await microsoftUserState(sandbox.url, account.id))?.deleted).toBe(true);
    const again = await provider.actions.delete_account!.execute(account, { ...ctx, attempt: 2 });
    expect(again.evidence).toMatchObject({
      deleted: false,
      alreadyAbsent: true,
      alreadyDone: true,
      confirmedAbsentByAttempt: 2,
      seenBy: 'read before delete',
      deletedItems: { found: true, deletedDateTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) },
    });
    expect(sandbox.control.writes.get(`delete_user:${account.id}`)).toBe(1);
    expect(await provider.actions.delete_account!.verify(account, ctx)).toEqual({ found: false, status: 404 });
  });
});

describe('remove_mfa', () => {
  it('removes every method but the password, default last, as the sandbox state shows', async () => {
    const { account, subject } = await seeded('mfa', {
      authMethods: ['microsoftAuthenticator', 'mobilePhone', 'alternateMobilePhone', 'fido2', 'email', 'temporaryAccessPass'],
    });
    const ctx = actionContext(subject);
    await expect(provider.actions.remove_mfa!.verify(account, ctx)).rejects.toBeInstanceOf(VerificationError);
    sandbox.control.reset();
    const first = await provider.actions.remove_mfa!.execute(account, ctx);
    expect(first.evidence.removed).toHaveLength(6);
    expect((await microsoftUserState(sandbox.url, account.id))?.authMethodTypes).toEqual([]);
    // The default (the Authenticator app) was refused once while the others remained, then removed.
    const refused = requestsTo(/\/authentication\/microsoftAuthenticatorMethods\//, 'DELETE').map((r) => r.status);
    expect(refused).toEqual([400, 204]);
    const evidence = await provider.actions.remove_mfa!.verify(account, ctx);
    expect(evidence.onlyPassword).toBe(true);
    const again = await provider.actions.remove_mfa!.execute(account, ctx);
    expect(again.evidence).toMatchObject({ removed: [], alreadyDone: true });
  });

  it('a user with only a password is already done and writes nothing', async () => {
    const { account, subject } = await seeded('mfa-none');
    sandbox.control.reset();
    const result = await provider.actions.remove_mfa!.execute(account, actionContext(subject));
    expect(result.evidence.alreadyDone).toBe(true);
    expect(requestsTo(/\/authentication\//, 'DELETE')).toHaveLength(0);
  });

  it('a sandbox that answers 204 without deleting fails verify', async () => {
    const { account, subject } = await seeded('mfa-lie', { authMethods: ['email'] });
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.remove_mfa!.execute(account, actionContext(subject));
    sandbox.control.setFaults({});
    expect((await microsoftUserState(sandbox.url, account.id))?.authMethodTypes).toEqual(['email']);
    await expect(provider.actions.remove_mfa!.verify(account, actionContext(subject))).rejects.toBeInstanceOf(VerificationError);
  });
});

describe('stop_mail_forwarding', () => {
  const rules = [
    { displayName: 'Forward', forwardTo: ['a@example.net'] },
    { displayName: 'Attach', forwardAsAttachmentTo: ['b@example.net'] },
    { displayName: 'Redirect', redirectTo: ['c@example.net'] },
    { displayName: 'File it', moveToFolder: 'Archive' },
  ];

  it('deletes the forwarding and redirecting rules only, as the sandbox mailbox shows, then finds nothing to do', async () => {
    const { account, subject } = await seeded('fwd', { inboxRules: rules });
    const ctx = actionContext(subject);
    await expect(provider.actions.stop_mail_forwarding!.verify(account, ctx)).rejects.toBeInstanceOf(VerificationError);
    const first = await provider.actions.stop_mail_forwarding!.execute(account, ctx);
    expect(first.evidence.removed).toHaveLength(3);
    expect((await microsoftUserState(sandbox.url, account.id))?.inboxRules).toEqual(['File it']);
    expect((await provider.actions.stop_mail_forwarding!.verify(account, ctx)).remainingForwardingRules).toBe(0);
    const again = await provider.actions.stop_mail_forwarding!.execute(account, ctx);
    expect(again.evidence).toMatchObject({ removed: [], alreadyDone: true });
  });

  it('with rules: all, deletes every inbox rule', async () => {
    const { account, subject } = await seeded('fwd-all', { inboxRules: rules });
    const ctx = actionContext(subject, { params: { rules: 'all' } });
    await provider.actions.stop_mail_forwarding!.execute(account, ctx);
    expect((await microsoftUserState(sandbox.url, account.id))?.inboxRules).toEqual([]);
    await provider.actions.stop_mail_forwarding!.verify(account, ctx);
  });

  it('skips a user without a mailbox; refuses an unknown rules param before any call', async () => {
    const { account, subject } = await seeded('fwd-none', { mailbox: false });
    const result = await provider.actions.stop_mail_forwarding!.execute(account, actionContext(subject));
    expect(result.skipped).toBe('the user has no Exchange Online mailbox');
    sandbox.control.reset();
    const bad = actionContext(subject, { params: { rules: 'some' } });
    await expect(provider.actions.stop_mail_forwarding!.execute(account, bad)).rejects.toBeInstanceOf(PermanentError);
    expect(requestsTo(/messageRules/)).toHaveLength(0);
  });
});

describe('remove_admin_roles', () => {
  it('deletes the user role assignments only, as the sandbox directory shows, and keeps a colleague in the role', async () => {
    const { account, subject } = await seeded('admin', { directoryRoles: ['Global Administrator', 'Exchange Administrator'] });
    const colleague = await seeded('colleague', { directoryRoles: ['Global Administrator'] });
    const ctx = actionContext(subject);
    await expect(provider.actions.remove_admin_roles!.verify(account, ctx)).rejects.toBeInstanceOf(VerificationError);
    const first = await provider.actions.remove_admin_roles!.execute(account, ctx);
    expect((first.evidence.removed as Array<{ role: string }>).map((r) => r.role).sort()).toEqual([
      'Exchange Administrator',
      'Global Administrator',
    ]);
    expect((await microsoftUserState(sandbox.url, account.id))?.directoryRoles).toEqual([]);
    expect((await microsoftUserState(sandbox.url, colleague.account.id))?.directoryRoles).toEqual(['Global Administrator']);
    expect(await provider.actions.remove_admin_roles!.verify(account, ctx)).toEqual({ remainingRoleAssignments: 0 });
    const again = await provider.actions.remove_admin_roles!.execute(account, ctx);
    expect(again.evidence).toMatchObject({ removed: [], alreadyDone: true });
  });
});

describe('revoke_public_links', () => {
  /** A OneDrive with links of every scope, nested folders and enough items for several delta pages. */
  const DRIVE = [
    { name: 'Clients', folder: true, links: [{ scope: 'anonymous' as const, type: 'view' as const }] },
    { name: 'Acme', folder: true, parent: 0 },
    { name: 'Acme contract.pdf', parent: 1, links: [{ scope: 'anonymous' as const, type: 'edit' as const }] },
    { name: 'Budget.xlsx', links: [{ scope: 'organization' as const, type: 'edit' as const }] },
    { name: 'Review.docx', links: [{ scope: 'users' as const, type: 'view' as const }] },
    { name: 'Notes.txt' },
    { name: 'Photo.jpg', links: [{ scope: 'anonymous' as const, type: 'embed' as const }] },
  ];
  const scopesLeft = async (id: string) => ((await microsoftUserState(sandbox.url, id))?.publicLinks ?? []).map((l) => l.scope).sort();

  it('deletes the anyone links only, pages through delta, names no file or URL, and is read back by the sandbox', async () => {
    const { account, subject } = await seeded('links', { driveItems: DRIVE });
    const ctx = actionContext(subject);
    await expect(provider.actions.revoke_public_links!.verify(account, ctx)).rejects.toBeInstanceOf(VerificationError);
    sandbox.control.reset();
    const first = await provider.actions.revoke_public_links!.execute(account, ctx);
    // The root and 7 items at 2 a page: delta was followed through its nextLinks.
    expect(requestsTo(/\/root\/delta$/, 'GET').length).toBe(4);
    expect(first.evidence).toMatchObject({ scopes: ['anonymous'], itemsInDrive: 8, removedCount: 3, itemsTouched: 3, alreadyDone: false });
    expect(sandbox.control.writes.get(`remove_public_link:${account.id}`)).toBe(3);
    expect(await scopesLeft(account.id)).toEqual(['organization', 'users']);
    const text = JSON.stringify(first.evidence);
    for (const name of DRIVE.map((d) => d.name)) expect(text).not.toContain(name);
    expect(text).not.toContain('sharepoint.com');

    expect(await provider.actions.revoke_public_links!.verify(account, ctx)).toMatchObject({
      remainingLinks: 0,
      scopes: ['anonymous'],
      itemsRead: 'items with a shared facet',
    });
    const again = await provider.actions.revoke_public_links!.execute(account, ctx);
    expect(again.evidence).toMatchObject({ removedCount: 0, removed: [], alreadyDone: true });
    expect(sandbox.control.writes.get(`remove_public_link:${account.id}`)).toBe(3);
  });

  it('with scopes [anonymous, organization] the organization-wide link goes too; specific-people links stay', async () => {
    const { account, subject } = await seeded('links-org', { driveItems: DRIVE });
    const ctx = actionContext(subject, { params: { scopes: ['anonymous', 'organization'] } });
    const result = await provider.actions.revoke_public_links!.execute(account, ctx);
    expect(result.evidence).toMatchObject({ removedCount: 4 });
    expect(await scopesLeft(account.id)).toEqual(['users']);
    await provider.actions.revoke_public_links!.verify(account, ctx);
    // The anonymous-only read-back of a drive that still has an organization link passes: scopes are the step's.
    await provider.actions.revoke_public_links!.verify(account, actionContext(subject));
  });

  it('a lost DELETE answer fails the attempt with its count in the checkpoint; the retry finishes and keeps it', async () => {
    const { account, subject } = await seeded('links-lost', { driveItems: DRIVE });
    const links = (await microsoftUserState(sandbox.url, account.id))!.publicLinks.filter((l) => l.scope === 'anonymous');
    const second = links[1]!;
    sandbox.control.loseAnswers('DELETE', new RegExp(`/items/${second.itemId}/permissions/`));
    const error = await provider.actions.revoke_public_links!.execute(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).checkpoint).toMatchObject({ removedPublicLinks: 1 });
    const retry = await provider.actions.revoke_public_links!.execute(
      account,
      actionContext(subject, { attempt: 2, checkpoint: (error as TransientError).checkpoint! }),
    );
    expect(retry.evidence).toMatchObject({ removedCount: 2, alreadyDone: false });
    expect(await scopesLeft(account.id)).toEqual(['organization', 'users']);
    await provider.actions.revoke_public_links!.verify(account, actionContext(subject));
  });

  it('verify names what a lying sandbox left, by id; a throttled delta is RateLimitedError', async () => {
    const { account, subject } = await seeded('links-lie', { driveItems: DRIVE });
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.revoke_public_links!.execute(account, actionContext(subject));
    sandbox.control.setFaults({});
    const error = await provider.actions.revoke_public_links!.verify(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    const observed = (error as VerificationError).observed as { remainingCount: number; remainingLinks: Array<{ inherited: boolean }> };
    // Every shared item is read: the three own links, and the folder's link as inherited by the subfolder and the contract.
    expect(observed.remainingCount).toBe(5);
    expect(observed.remainingLinks.some((l) => l.inherited)).toBe(true);
    expect(JSON.stringify(observed)).not.toContain('sharepoint.com');
    sandbox.control.setFaults({ rateLimitRate: 1, rateLimitRetryAfterMs: 3000 });
    const throttled = await provider.actions.revoke_public_links!.verify(account, actionContext(subject)).catch((e: unknown) => e);
    expect(throttled).toBeInstanceOf(RateLimitedError);
    expect((throttled as RateLimitedError).retryAfterMs).toBe(3000);
  });

  it('skips a user without a OneDrive; refuses unknown scopes before any call', async () => {
    const { account, subject } = await seeded('links-none', { drive: false });
    expect((await provider.actions.revoke_public_links!.execute(account, actionContext(subject))).skipped).toBe('the user has no OneDrive');
    sandbox.control.reset();
    const refused: JsonObject[] = [{ scopes: ['users'] }, { scopes: [] }, { scopes: 'anonymous' }, { items: 'some' }];
    for (const params of refused) {
      await expect(provider.actions.revoke_public_links!.execute(account, actionContext(subject, { params }))).rejects.toBeInstanceOf(
        PermanentError,
      );
    }
    expect(sandbox.control.requests).toHaveLength(0);
  });

  it("the sandbox speaks Graph's wire: delta pages end in a deltaLink, an inherited link cannot be deleted, $select is checked", async () => {
    const { user } = await seeded('links-wire', { driveItems: DRIVE });
    const auth = { authorization: `Bearer ${await sandboxToken()}` };
    const get = async (url: string) => {
      const response = await fetch(url, { headers: auth });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    let page = await get(`${sandbox.url}/v1.0/users/${user.id}/drive/root/delta?$select=id,shared,parentReference`);
    const items: Array<{ id: string; shared?: { scope: string }; parentReference: { id?: string } }> = [];
    for (let i = 0; i < 10 && page.body['@odata.nextLink']; i += 1) {
      expect(page.body['@odata.deltaLink']).toBeUndefined();
      items.push(...(page.body.value as typeof items));
      page = await get(page.body['@odata.nextLink'] as string);
    }
    items.push(...(page.body.value as typeof items));
    expect(page.body['@odata.deltaLink']).toMatch(/\/v1\.0\/drives\/[^/]+\/root\/delta\?\$select=id,shared,parentReference&token=/);
    expect(items).toHaveLength(8);
    // A later delta from that link lists nothing: nothing changed.
    expect((await get(page.body['@odata.deltaLink'] as string)).body.value).toEqual([]);

    const contract = items.find(
      (i) => i.shared?.scope === 'anonymous' && !items.some((c) => c.parentReference.id === i.id) && i.parentReference.id !== items[0]!.id,
    );
    expect(contract).toBeDefined();
    const permissions = await get(`${sandbox.url}/v1.0/drives/${user.driveId}/items/${contract!.id}/permissions`);
    const inherited = (permissions.body.value as Array<{ id: string; link?: unknown; inheritedFrom?: { id: string } }>).find(
      (p) => p.link && p.inheritedFrom,
    );
    expect(inherited?.inheritedFrom?.id).toBeTypeOf('string');
    const refused = await fetch(`${sandbox.url}/v1.0/drives/${user.driveId}/items/${contract!.id}/permissions/${inherited!.id}`, {
      method: 'DELETE',
      headers: auth,
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('notAllowed');

    const bad = await get(`${sandbox.url}/v1.0/users/${user.id}/drive/root/delta?$select=id,secretSauce`);
    expect(bad.status).toBe(400);
  });
});
