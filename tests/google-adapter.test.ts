/**
 * The Google adapter against its sandbox, through the real @googleapis/admin client:
 * what each action changes, what it proves, and how failures are typed.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { createGoogleProvider, DRIVE_APPLICATION_ID, CALENDAR_APPLICATION_ID } from '../providers/google/adapter.ts';
import { googleConfigSchema, type GoogleConfigInput } from '../providers/google/config.ts';
import { googleModule } from '../providers/google/index.ts';
import { SANDBOX_ACCESS_TOKEN, startGoogleSandbox, type GoogleSandbox } from '../providers/google/sandbox.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { JsonObject, Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { executeToCompletion } from './conformance/suite.ts';
import { actionContext, freshSubject } from './helpers/context.ts';

let sandbox: GoogleSandbox;
let provider: Provider;

function providerWith(overrides: Partial<GoogleConfigInput> = {}): Provider {
  const config = googleConfigSchema.parse({
    adminSubject: 'admin@sandbox.example.com',
    accessToken: SANDBOX_ACCESS_TOKEN,
    rootUrl: `${sandbox.url}/`,
    ...overrides,
  });
  return createGoogleProvider(config, { name: 'google-test', logger: silentLogger() });
}

/** A user seeded in the sandbox, and the account the adapter resolves for it. */
async function seeded(
  input: { oauthGrants?: number; appPasswords?: number; groups?: string[]; suspended?: boolean } = {},
): Promise<{ subject: Subject; account: AccountRef; userId: string }> {
  const subject = freshSubject('g');
  const user = sandbox.state.createUser({ primaryEmail: subject.emails[0]!, ...input });
  const account = await provider.resolve(subject, actionContext(subject));
  expect(account).not.toBeNull();
  return { subject, account: account!, userId: user.id };
}

beforeAll(async () => {
  sandbox = await startGoogleSandbox();
  provider = providerWith();
});
afterAll(async () => {
  await sandbox?.close();
});
beforeEach(() => {
  sandbox.control.setFaults({});
  sandbox.control.autoProvision = false;
  sandbox.state.transferBehaviour = { pollsToComplete: 2, outcome: 'completed' };
});

describe('module', () => {
  it('sandboxConfig points create() at the sandbox with its static token', async () => {
    const config = googleModule.sandboxConfig(sandbox);
    expect(config.rootUrl).toBe(`${sandbox.url}/`);
    expect(config.accessToken).toBe(SANDBOX_ACCESS_TOKEN);
    expect(config.serviceAccountKey).toBeUndefined();
    const p = googleModule.create(config, { name: 'g', logger: silentLogger() });
    await expect(p.validate!({ signal: new AbortController().signal, logger: silentLogger() })).resolves.toBeUndefined();
  });

  it('config needs exactly one credential', () => {
    const base = { adminSubject: 'admin@example.com' };
    expect(googleConfigSchema.safeParse(base).success).toBe(false);
    expect(googleConfigSchema.safeParse({ ...base, accessToken: 't', serviceAccountKey: '/etc/key.json' }).success).toBe(false);
    const parsed = googleConfigSchema.parse({
      ...base,
      serviceAccountKey: { client_email: 'sa@p.iam.gserviceaccount.com', private_key: 'k' },
    });
    expect(parsed.customer).toBe('my_customer');
  });
});

describe('resolve', () => {
  it('tries userName, then each email, and returns the numeric id', async () => {
    const subject = freshSubject('r');
    const other = `other-${subject.emails[0]}`;
    const user = sandbox.state.createUser({ primaryEmail: other });
    const account = await provider.resolve({ ...subject, emails: [subject.emails[0]!, other] }, actionContext(subject));
    expect(account).toEqual({ id: user.id, primaryEmail: other, suspended: false });
    expect(account!.id).toMatch(/^\d+$/);
    const lookups = sandbox.control.requests.filter((r) => r.path.startsWith('/admin/directory/v1/users/')).slice(-2);
    expect(lookups.map((r) => r.status)).toEqual([404, 200]);
  });

  it('returns null when no key matches', async () => {
    const subject = freshSubject('nobody');
    expect(await provider.resolve(subject, actionContext(subject))).toBeNull();
  });
});

describe('revoke_sessions', () => {
  it('signs out, deletes every OAuth grant and app password, and verifies both lists are empty', async () => {
    const { subject, account, userId } = await seeded({ oauthGrants: 3, appPasswords: 2 });
    const ctx = actionContext(subject);
    const result = await provider.actions.revoke_sessions!.execute(account, ctx);
    expect(result.evidence.alreadyDone).toBe(false);
    expect(result.evidence.oauthClientsRevoked).toHaveLength(3);
    expect(result.evidence.appPasswordsRevoked).toHaveLength(2);
    const user = sandbox.state.users.get(userId)!;
    expect(user.grants).toEqual([]);
    expect(user.asps).toEqual([]);
    expect(user.signOuts).toHaveLength(1);
    expect(sandbox.control.writes.get(`tokens.delete:${userId}`)).toBe(3);

    const evidence = await provider.actions.revoke_sessions!.verify(account, ctx);
    expect(evidence).toMatchObject({ oauthGrantsRemaining: 0, appPasswordsRemaining: 0 });
    expect(evidence.signOut).toMatch(/no read-back/);

    const again = await provider.actions.revoke_sessions!.execute(account, ctx);
    expect(again.evidence.alreadyDone).toBe(true);
    expect(sandbox.control.writes.get(`tokens.delete:${userId}`)).toBe(3);
  });

  it('verify names what remains when the sandbox lies', async () => {
    const { subject, account } = await seeded({ oauthGrants: 1, appPasswords: 1 });
    const ctx = actionContext(subject);
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.revoke_sessions!.execute(account, ctx);
    sandbox.control.setFaults({});
    const error = await provider.actions.revoke_sessions!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed.oauthClientIds).toHaveLength(1);
    expect((error as VerificationError).observed.appPasswordIds).toHaveLength(1);
  });
});

describe('disable_account', () => {
  it('suspends once; a suspended user is already done', async () => {
    const { subject, account, userId } = await seeded();
    const ctx = actionContext(subject);
    expect((await provider.actions.disable_account!.execute(account, ctx)).evidence).toEqual({
      suspended: true,
      alreadyDone: false,
    });
    expect(sandbox.state.users.get(userId)!.suspended).toBe(true);
    expect(await provider.actions.disable_account!.verify(account, ctx)).toMatchObject({ suspended: true });
    expect((await provider.actions.disable_account!.execute(account, ctx)).evidence.alreadyDone).toBe(true);
    expect(sandbox.control.writes.get(`users.update:${userId}`)).toBe(1);
  });

  it('verify throws VerificationError with the observed field when the write was a lie', async () => {
    const { subject, account, userId } = await seeded();
    const ctx = actionContext(subject);
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.disable_account!.execute(account, ctx);
    sandbox.control.setFaults({});
    expect(sandbox.state.users.get(userId)!.suspended).toBe(false);
    const error = await provider.actions.disable_account!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({ suspended: false });
  });
});

describe('remove_groups', () => {
  it('removes every direct membership and verifies none is left', async () => {
    const { subject, account, userId } = await seeded({ groups: ['a@example.com', 'b@example.com', 'c@example.com'] });
    const ctx = actionContext(subject);
    const result = await provider.actions.remove_groups!.execute(account, ctx);
    expect([...(result.evidence.groupsRemoved as string[])].sort()).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
    expect(sandbox.state.groupsOf(userId)).toEqual([]);
    expect(sandbox.control.writes.get(`members.delete:${userId}`)).toBe(3);
    expect(await provider.actions.remove_groups!.verify(account, ctx)).toEqual({ groupsRemaining: 0 });
    expect((await provider.actions.remove_groups!.execute(account, ctx)).evidence.alreadyDone).toBe(true);
  });
});

describe('transfer_files', () => {
  async function withManager(): Promise<{ subject: Subject; account: AccountRef; userId: string; managerId: string }> {
    const s = await seeded();
    const managerEmail = `boss-${s.subject.emails[0]}`;
    const manager = sandbox.state.createUser({ primaryEmail: managerEmail });
    return { ...s, subject: { ...s.subject, manager: { email: managerEmail } }, managerId: manager.id };
  }

  it('inserts one transfer with numeric ids and Drive+Calendar params, then polls until completed', async () => {
    sandbox.state.transferBehaviour.pollsToComplete = 3;
    const { subject, account, userId, managerId } = await withManager();
    const handler = provider.actions.transfer_files!;

    const first = await handler.execute(account, actionContext(subject));
    expect(first.inProgress).toBeDefined();
    expect(first.inProgress!.checkAfterMs).toBe(1000);
    const transferId = first.inProgress!.checkpoint.transferId as string;
    expect(first.inProgress!.checkpoint).toMatchObject({ transferId, polls: 0 });

    const stored = sandbox.state.transfers.get(transferId)!;
    expect(stored.oldOwnerUserId).toBe(userId);
    expect(stored.newOwnerUserId).toBe(managerId);
    expect(stored.params).toEqual({
      [DRIVE_APPLICATION_ID]: [{ key: 'PRIVACY_LEVEL', value: ['PRIVATE', 'SHARED'] }],
      [CALENDAR_APPLICATION_ID]: [{ key: 'RELEASE_RESOURCES', value: ['TRUE'] }],
    });

    const delays: number[] = [];
    let checkpoint: JsonObject | null = first.inProgress!.checkpoint;
    let result = first;
    while (result.inProgress) {
      result = await handler.execute(account, actionContext(subject, { checkpoint }));
      if (result.inProgress) {
        delays.push(result.inProgress.checkAfterMs);
        checkpoint = result.inProgress.checkpoint;
      }
    }
    expect(delays).toEqual([2000, 4000]);
    expect(result.evidence).toMatchObject({ transferId, overallTransferStatusCode: 'completed', polls: 3 });
    expect(sandbox.control.writes.get(`transfers.insert:${userId}`)).toBe(1);

    expect(await handler.verify(account, actionContext(subject, { checkpoint }))).toMatchObject({
      transferId,
      overallTransferStatusCode: 'completed',
    });
    // Without the checkpoint, verify finds the transfer by its old owner.
    expect(await handler.verify(account, actionContext(subject))).toMatchObject({ transferId });
    // Run again from scratch: the completed transfer is found, nothing is inserted.
    const again = await handler.execute(account, actionContext(subject));
    expect(again.evidence).toMatchObject({ alreadyDone: true, transferId });
    expect(sandbox.control.writes.get(`transfers.insert:${userId}`)).toBe(1);
  });

  it('spaces polls exponentially, capped by transferPollMaxMs', async () => {
    sandbox.state.transferBehaviour.pollsToComplete = 100;
    const capped = providerWith({ transferPollMaxMs: 10_000 });
    const { subject, account } = await withManager();
    let checkpoint: JsonObject | null = null;
    const delays: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const r = await capped.actions.transfer_files!.execute(account, actionContext(subject, { checkpoint }));
      delays.push(r.inProgress!.checkAfterMs);
      checkpoint = r.inProgress!.checkpoint;
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('picks up a running transfer instead of inserting a second one when the checkpoint was lost', async () => {
    sandbox.state.transferBehaviour.pollsToComplete = 5;
    const { subject, account, userId } = await withManager();
    const first = await provider.actions.transfer_files!.execute(account, actionContext(subject));
    const second = await provider.actions.transfer_files!.execute(account, actionContext(subject));
    expect(second.inProgress!.checkpoint.transferId).toBe(first.inProgress!.checkpoint.transferId);
    expect(sandbox.control.writes.get(`transfers.insert:${userId}`)).toBe(1);
  });

  it('a failed transfer is a PermanentError naming the status', async () => {
    sandbox.state.transferBehaviour = { pollsToComplete: 1, outcome: 'failed' };
    const { subject, account } = await withManager();
    const error = await executeToCompletion(provider, 'transfer_files', account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/status failed/);
  });

  it('falls back to fallbackOwner, and fails permanently when there is no new owner', async () => {
    const { subject, account } = await seeded();
    const error = await provider.actions.transfer_files!.execute(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);

    const fallback = sandbox.state.createUser({ primaryEmail: `it-${subject.emails[0]}` });
    const withFallback = providerWith({ fallbackOwner: fallback.primaryEmail });
    const ghost = { ...subject, manager: { email: `gone-${subject.emails[0]}` } };
    const result = await withFallback.actions.transfer_files!.execute(account, actionContext(ghost));
    expect(result.evidence).toMatchObject({ newOwnerUserId: fallback.id, newOwnerSource: 'fallbackOwner' });
  });

  it('a transfer the API accepted but does not keep ends execution and fails verify', async () => {
    const { subject, account } = await withManager();
    sandbox.control.setFaults({ lyingRate: 1 });
    const result = await executeToCompletion(provider, 'transfer_files', account, actionContext(subject));
    sandbox.control.setFaults({});
    expect(result.evidence.transferStatus).toBe('not_found');
    const checkpoint = { transferId: result.evidence.transferId as string, polls: 1 };
    const withId = await provider.actions.transfer_files!.verify(account, actionContext(subject, { checkpoint })).catch((e: unknown) => e);
    expect(withId).toBeInstanceOf(VerificationError);
    expect((withId as VerificationError).observed).toMatchObject({ overallTransferStatusCode: 'not_found' });
    await expect(provider.actions.transfer_files!.verify(account, actionContext(subject))).rejects.toBeInstanceOf(VerificationError);
  });
});

describe('delete_account', () => {
  it('deletes, verifies the 404, and counts an already deleted user as done', async () => {
    const { subject, account, userId } = await seeded();
    const ctx = actionContext(subject);
    expect((await provider.actions.delete_account!.execute(account, ctx)).evidence.alreadyDone).toBe(false);
    expect(sandbox.state.users.has(userId)).toBe(false);
    expect(await provider.actions.delete_account!.verify(account, ctx)).toMatchObject({ userGet: 404 });
    expect((await provider.actions.delete_account!.execute(account, ctx)).evidence.alreadyDone).toBe(true);
    expect(sandbox.control.writes.get(`users.delete:${userId}`)).toBe(1);
  });

  it('verify fails while the user still exists', async () => {
    const { subject, account } = await seeded();
    const error = await provider.actions.delete_account!.verify(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toMatchObject({ id: account.id });
  });
});

describe('failures through the sandbox', () => {
  it("Google's 403 rateLimitExceeded is a RateLimitedError with the Retry-After delay, after one request", async () => {
    const { subject, account } = await seeded();
    sandbox.control.setFaults({ rateLimitRate: 1, rateLimitRetryAfterMs: 4000 });
    const before = sandbox.control.requests.length;
    const error = await provider.actions.disable_account!.execute(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).not.toBeInstanceOf(PermanentError);
    expect((error as RateLimitedError).retryAfterMs).toBe(4000);
    expect(sandbox.control.requests.length - before).toBe(1);
  });

  it('a 503 is a TransientError and is not retried by the SDK (GET or POST)', async () => {
    const { subject, account } = await seeded();
    sandbox.control.setFaults({ errorRate: 1 });
    // disable_account starts with users.get (a GET gaxios would retry by default);
    // revoke_sessions starts with users.signOut (a POST).
    for (const action of ['disable_account', 'revoke_sessions'] as const) {
      const before = sandbox.control.requests.length;
      const error = await provider.actions[action]!.execute(account, actionContext(subject)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      expect(sandbox.control.requests.length - before).toBe(1);
    }
  });

  it('a wrong token fails validate() with PermanentError and the token appears nowhere in the error', async () => {
    const wrong = providerWith({ accessToken: 'ya29.wrong-secret-token' });
    const error = await wrong.validate!({ signal: new AbortController().signal, logger: silentLogger() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/HTTP 401/);
    const everything = JSON.stringify({ ...(error as object), message: (error as Error).message, stack: (error as Error).stack });
    expect(everything).not.toContain('wrong-secret-token');
    expect((error as Error).cause).toBeUndefined();
  });

  it('a timeout (no answer) is a TransientError', async () => {
    const { subject, account } = await seeded();
    const quick = providerWith({ timeoutMs: 200 });
    sandbox.control.setFaults({ latencyMs: 1000 });
    const error = await quick.actions.disable_account!.verify(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
  });
});
