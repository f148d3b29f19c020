/**
 * The GitHub adapter against the GitHub emulator: credential authorizations revoked and
 * membership removed once (the write counters prove it), an outside collaborator removed,
 * absent people skipped or found already done, both GitHub rate limits reported with their
 * wait, a bad token and a token without write permission refused with a message that says
 * what is missing (and never the token), and a lying write caught by the read-back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { githubConfigSchema, type GitHubConfigInput } from '../providers/github/config.ts';
import { githubModule } from '../providers/github/index.ts';
import {
  GITHUB_SANDBOX_READ_ONLY_TOKEN,
  GITHUB_SANDBOX_TOKEN,
  startGitHubSandbox,
  type RunningGitHubSandbox,
} from '../providers/github/sandbox.ts';
import { PermanentError, RateLimitedError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { createLogger, silentLogger } from '../src/telemetry/logger.ts';
import { actionContext, freshSubject } from './helpers/context.ts';

let sandbox: RunningGitHubSandbox;

function provider(overrides: Partial<GitHubConfigInput> = {}): Provider {
  const config = githubConfigSchema.parse({ ...githubModule.sandboxConfig(sandbox), ...overrides });
  return githubModule.create(config, { name: 'github-test', logger: silentLogger() });
}

const ctx = (subject: Subject) => actionContext(subject);
let seq = 0;
/** A subject and its GitHub user, linked through a SAML identity whose NameID is the subject's userName. */
function seeded(options: { membership?: 'active' | 'pending' | null; outsideCollaborator?: boolean; linked?: boolean } = {}) {
  const subject = freshSubject('gh');
  seq += 1;
  const login = `octo-${process.pid}-${seq}`;
  const user = sandbox.seedUser({ login, nameId: subject.userName!, ...options });
  return { subject, login, credentialIds: user.credentialIds };
}

beforeAll(async () => {
  sandbox = await startGitHubSandbox({});
});
afterEach(() => {
  sandbox.control.setFaults({});
  sandbox.setRateLimitStyle('secondary');
  sandbox.setSamlEnabled(true);
});
afterAll(async () => {
  await sandbox.close();
});

describe('revoke_sessions and disable_account', () => {
  it('revokes every credential authorization and removes the membership once; a second run changes nothing', async () => {
    const { subject, login, credentialIds } = seeded();
    const p = provider();
    const account = (await p.resolve(subject, ctx(subject)))!;
    expect(account).toEqual({ id: login, login, via: 'samlIdentity', nameId: subject.userName });

    const revoked = await p.actions.revoke_sessions!.execute(account, ctx(subject));
    expect((revoked.evidence.credentialAuthorizationsRevoked as Array<{ credentialId: number }>).map((c) => c.credentialId)).toEqual(
      credentialIds,
    );
    expect(await p.actions.revoke_sessions!.verify(account, ctx(subject))).toEqual({
      login,
      org: 'deprovisiond-sandbox',
      remainingCredentialAuthorizations: [],
    });

    const removed = await p.actions.disable_account!.execute(account, ctx(subject));
    expect(removed.evidence).toMatchObject({
      membershipBefore: { state: 'active', role: 'member' },
      membershipRemoved: true,
      alreadyDone: false,
    });
    expect(await p.actions.disable_account!.verify(account, ctx(subject))).toMatchObject({
      membership: 'none (404)',
      outsideCollaborator: false,
    });

    expect((await p.actions.revoke_sessions!.execute(account, ctx(subject))).evidence).toMatchObject({ alreadyDone: true });
    expect((await p.actions.disable_account!.execute(account, ctx(subject))).evidence).toMatchObject({ alreadyDone: true });
    expect(sandbox.control.writes.get(`revoke_credential_authorization:${login}`)).toBe(credentialIds.length);
    expect(sandbox.control.writes.get(`remove_membership:${login}`)).toBe(1);
  });

  it('removes an outside collaborator (no membership) and proves it by listing the collaborators', async () => {
    const { subject, login } = seeded({ membership: null, outsideCollaborator: true });
    const p = provider();
    const account = (await p.resolve(subject, ctx(subject)))!;
    const result = await p.actions.disable_account!.execute(account, ctx(subject));
    expect(result.evidence).toMatchObject({
      membershipBefore: null,
      outsideCollaboratorBefore: true,
      outsideCollaboratorRemoved: true,
      alreadyDone: false,
    });
    await p.actions.disable_account!.verify(account, ctx(subject));
    expect(sandbox.user(login)?.outsideCollaborator).toBe(false);
  });

  it('cancels a pending invitation', async () => {
    const { subject, login } = seeded({ membership: 'pending' });
    const p = provider();
    const account = (await p.resolve(subject, ctx(subject)))!;
    expect((await p.actions.disable_account!.execute(account, ctx(subject))).evidence).toMatchObject({
      membershipBefore: { state: 'pending' },
      membershipRemoved: true,
    });
    expect(sandbox.user(login)?.membership).toBeNull();
  });
});

describe('absent people', () => {
  it('no SAML identity, or one linked to no GitHub account, resolves to null (the task is skipped)', async () => {
    const nobody = freshSubject('gh-nobody');
    expect(await provider().resolve(nobody, ctx(nobody))).toBeNull();
    const { subject } = seeded({ linked: false });
    expect(await provider().resolve(subject, ctx(subject))).toBeNull();
  });

  it('a login already out of the organization is already done, and verified', async () => {
    const { subject, login } = seeded({ membership: null, outsideCollaborator: false });
    const p = provider();
    const account: AccountRef = (await p.resolve(subject, ctx(subject)))!;
    expect(account.login).toBe(login);
    const result = await p.actions.disable_account!.execute(account, ctx(subject));
    expect(result.evidence).toMatchObject({
      membershipBefore: null,
      membershipRemoved: false,
      outsideCollaboratorBefore: false,
      alreadyDone: true,
    });
    await p.actions.disable_account!.verify(account, ctx(subject));
    expect(sandbox.control.writes.get(`remove_membership:${login}`)).toBeUndefined();
  });

  it('by login: neither member nor outside collaborator resolves to null', async () => {
    const { login } = seeded({ membership: null, outsideCollaborator: false });
    const subject: Subject = { userName: `${login}@acme.example`, emails: [] };
    expect(await provider({ lookup: { by: 'login', from: 'userNameLocalPart' } }).resolve(subject, ctx(subject))).toBeNull();
  });

  it('an organization without SAML SSO of its own is a permanent error, not a skip', async () => {
    sandbox.setSamlEnabled(false);
    const { subject } = seeded();
    await expect(provider().resolve(subject, ctx(subject))).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('rate limits', () => {
  it('a secondary rate limit (403 + retry-after) is RateLimitedError with that wait', async () => {
    const { subject } = seeded();
    const p = provider();
    const account = (await p.resolve(subject, ctx(subject)))!;
    sandbox.control.setFaults({ rateLimitRate: 1, rateLimitRetryAfterMs: 7000 });
    const error = await p.actions.disable_account!.execute(account, ctx(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(7000);
  });

  it('the primary rate limit (x-ratelimit-remaining: 0) waits until x-ratelimit-reset, on GraphQL too', async () => {
    const { subject } = seeded();
    sandbox.setRateLimitStyle('primary');
    sandbox.control.setFaults({ rateLimitRate: 1, rateLimitRetryAfterMs: 30_000 });
    const error = await provider()
      .resolve(subject, ctx(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    // The reset is in epoch seconds, rounded up.
    expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(29_000);
    expect((error as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(31_000);
  });
});

describe('credentials', () => {
  it('a bad token is refused at validate() with a message that says so, without the token', async () => {
    const token = 'ghp_not-the-sandbox-token-0123456789';
    const error = await provider({ token }).validate!({ signal: AbortSignal.timeout(5000), logger: silentLogger() }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(
      /^GitHub get organization: HTTP 401 Bad credentials \(the token is invalid, expired or revoked\)/,
    );
    expect((error as Error).message).not.toContain(token);
    expect((error as Error).message).not.toContain(GITHUB_SANDBOX_TOKEN);
  });

  it('a token that may read but not write: each write names the permission it lacks', async () => {
    const { subject } = seeded();
    const p = provider({ token: GITHUB_SANDBOX_READ_ONLY_TOKEN });
    const account = (await p.resolve(subject, ctx(subject)))!;
    const removal = await p.actions.disable_account!.execute(account, ctx(subject)).catch((e: unknown) => e);
    expect(removal).toBeInstanceOf(PermanentError);
    expect((removal as Error).message).toMatch(/HTTP 403 .*members=write.*needs Members: write/);
    const revocation = await p.actions.revoke_sessions!.execute(account, ctx(subject)).catch((e: unknown) => e);
    expect(revocation).toBeInstanceOf(PermanentError);
    expect((revocation as Error).message).toMatch(/organization_administration=write.*needs Administration: write/);
  });
});

describe('logs', () => {
  it('a run at trace level, with refusals and rate limits, logs neither token', async () => {
    let logged = '';
    const logger = createLogger({ level: 'trace', destination: { write: (line: string) => void (logged += line) } });
    const make = (token: string) =>
      githubModule.create(githubConfigSchema.parse({ ...githubModule.sandboxConfig(sandbox), token }), { name: 'github-logged', logger });
    const { subject } = seeded();
    const p = make(GITHUB_SANDBOX_TOKEN);
    const account = (await p.resolve(subject, actionContext(subject, { logger })))!;
    await p.actions.revoke_sessions!.execute(account, actionContext(subject, { logger }));
    await p.actions.disable_account!.verify(account, actionContext(subject, { logger })).catch(() => undefined);
    await make(GITHUB_SANDBOX_READ_ONLY_TOKEN)
      .actions.disable_account!.execute(account, actionContext(subject, { logger }))
      .catch(() => undefined);
    sandbox.control.setFaults({ rateLimitRate: 1 });
    await p.resolve(subject, actionContext(subject, { logger })).catch(() => undefined);
    expect(sandbox.control.requests.length).toBeGreaterThan(0);
    expect(logged).not.toContain(GITHUB_SANDBOX_TOKEN);
    expect(logged).not.toContain(GITHUB_SANDBOX_READ_ONLY_TOKEN);
  });
});

describe('read-back', () => {
  it('a write GitHub answers 204 without doing is caught by verify, which names what remains', async () => {
    const { subject, credentialIds } = seeded();
    const p = provider();
    const account = (await p.resolve(subject, ctx(subject)))!;
    sandbox.control.setFaults({ lyingRate: 1 });
    await p.actions.revoke_sessions!.execute(account, ctx(subject));
    await p.actions.disable_account!.execute(account, ctx(subject));
    sandbox.control.setFaults({});
    const sessions = await p.actions.revoke_sessions!.verify(account, ctx(subject)).catch((e: unknown) => e);
    expect(sessions).toBeInstanceOf(VerificationError);
    expect((sessions as VerificationError).observed).toMatchObject({ remainingCredentialAuthorizations: credentialIds });
    const membership = await p.actions.disable_account!.verify(account, ctx(subject)).catch((e: unknown) => e);
    expect(membership).toBeInstanceOf(VerificationError);
    expect((membership as VerificationError).observed).toMatchObject({ membership: { state: 'active', role: 'member' } });
  });
});
