/**
 * stop_mail_forwarding (Gmail) and revoke_public_links (Drive) against the Google sandbox,
 * through the real @googleapis/gmail and @googleapis/drive clients: each test proves by
 * reading the sandbox's own state, not the adapter's evidence, that the door is shut.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { createGoogleProvider } from '../providers/google/adapter.ts';
import { googleConfigSchema } from '../providers/google/config.ts';
import { publicFilesQuery } from '../providers/google/public-links.ts';
import { parseQuery, visibilityOf } from '../providers/google/sandbox-drive.ts';
import { SANDBOX_ACCESS_TOKEN, startGoogleSandbox, type GoogleSandbox } from '../providers/google/sandbox.ts';
import { PermanentError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext, freshSubject } from './helpers/context.ts';

let sandbox: GoogleSandbox;
let provider: Provider;

type Seed = Parameters<GoogleSandbox['state']['createUser']>[0];

async function seeded(
  input: Omit<Seed, 'primaryEmail'> = {},
): Promise<{ subject: Subject; account: AccountRef; userId: string; email: string }> {
  const subject = freshSubject('gmd');
  const email = subject.emails[0]!;
  const user = sandbox.state.createUser({ primaryEmail: email, ...input });
  const account = await provider.resolve(subject, actionContext(subject));
  expect(account).not.toBeNull();
  return { subject, account: account!, userId: user.id, email };
}

const publicLinksOf = (email: string) =>
  sandbox.state.drive.ownedBy(email).flatMap((f) => f.permissions.filter((p) => p.type === 'anyone' || p.type === 'domain'));

beforeAll(async () => {
  sandbox = await startGoogleSandbox();
  const config = googleConfigSchema.parse({
    adminSubject: 'admin@sandbox.example.com',
    accessToken: SANDBOX_ACCESS_TOKEN,
    rootUrl: `${sandbox.url}/`,
  });
  provider = createGoogleProvider(config, { name: 'google-mail-drive', logger: silentLogger() });
});
afterAll(async () => {
  await sandbox?.close();
});
beforeEach(() => {
  sandbox.control.setFaults({});
  sandbox.control.autoProvision = false;
});

describe('stop_mail_forwarding', () => {
  const mailbox = { forwardTo: 'me@personal.example', forwardingFilters: 2, imap: true, pop: true };

  it('turns forwarding, IMAP and POP off, deletes forwarding filters and addresses, keeps other filters, and verifies', async () => {
    const { subject, account, userId } = await seeded(mailbox);
    const ctx = actionContext(subject);
    const result = await provider.actions.stop_mail_forwarding!.execute(account, ctx);
    const settings = sandbox.state.gmail.byUser.get(userId)!;
    expect(settings.autoForwarding).toEqual({ enabled: false });
    expect(settings.imap.enabled).toBe(false);
    expect(settings.pop.accessWindow).toBe('disabled');
    expect(settings.forwardingAddresses).toEqual([]);
    // The label-only filter stays: only filters that forward are doors.
    expect(settings.filters.map((f) => f.action)).toEqual([{ addLabelIds: ['Label_1'] }]);
    expect(result.evidence).toMatchObject({
      autoForwarding: 'turned off (was to me@personal.example)',
      imap: 'turned off',
      pop: 'turned off',
      forwardingAddressesRemoved: ['me@personal.example'],
      alreadyDone: false,
    });
    expect(result.evidence.forwardingFiltersRemoved).toHaveLength(2);
    expect(await provider.actions.stop_mail_forwarding!.verify(account, ctx)).toEqual({
      autoForwarding: false,
      imap: false,
      pop: 'disabled',
      forwardingFilters: 0,
      forwardingAddresses: 0,
    });
  });

  it('a repeat reads everything and writes nothing', async () => {
    const { subject, account, userId } = await seeded(mailbox);
    const ctx = actionContext(subject);
    await provider.actions.stop_mail_forwarding!.execute(account, ctx);
    const writes = sandbox.control.writeLog.filter((w) => w.accountId === userId).length;
    const again = await provider.actions.stop_mail_forwarding!.execute(account, ctx);
    expect(again.evidence).toEqual({
      autoForwarding: 'already off',
      imap: 'already off',
      pop: 'already off',
      forwardingFiltersRemoved: [],
      forwardingAddressesRemoved: [],
      alreadyDone: true,
    });
    expect(sandbox.control.writeLog.filter((w) => w.accountId === userId)).toHaveLength(writes);
  });

  it('verify reports what remains when the sandbox lies, and catches forwarding turned back on (drift)', async () => {
    const { subject, account, email } = await seeded(mailbox);
    const ctx = actionContext(subject);
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.stop_mail_forwarding!.execute(account, ctx);
    sandbox.control.setFaults({});
    const lied = await provider.actions.stop_mail_forwarding!.verify(account, ctx).catch((e: unknown) => e);
    expect(lied).toBeInstanceOf(VerificationError);
    expect((lied as VerificationError).observed).toMatchObject({
      autoForwardingEnabled: true,
      imapEnabled: true,
      popAccessWindow: 'allMail',
      forwardingAddresses: ['me@personal.example'],
    });
    await provider.actions.stop_mail_forwarding!.execute(account, ctx);
    await provider.actions.stop_mail_forwarding!.verify(account, ctx);
    const res = await fetch(`${sandbox.url}/__sandbox/users/${encodeURIComponent(email)}/forwarding`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'drift@elsewhere.example' }),
    });
    expect(res.status).toBe(204);
    const drift = await provider.actions.stop_mail_forwarding!.verify(account, ctx).catch((e: unknown) => e);
    expect(drift).toBeInstanceOf(VerificationError);
    expect((drift as VerificationError).observed).toMatchObject({
      autoForwardingEnabled: true,
      forwardingAddresses: ['drift@elsewhere.example'],
    });
  });

  it('a permanent Gmail refusal on a suspended user says the user is suspended', async () => {
    const { subject, account, userId } = await seeded({ ...mailbox, suspended: true });
    // The sandbox does not model Gmail's answer for a suspended mailbox (Google does not
    // document it); its 403 "Delegation denied" for an address it does not know stands in.
    const error = await provider.actions
      .stop_mail_forwarding!.execute({ ...account, primaryEmail: `unknown-${userId}@example.com` }, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/is already suspended and Gmail serves no suspended mailbox \(google settings\.\w+: HTTP 403/);
    expect(sandbox.state.gmail.byUser.get(userId)!.autoForwarding.enabled).toBe(true);
  });

  it('the same refusal on an active user stays the error of the call', async () => {
    const { subject, account, userId } = await seeded(mailbox);
    const error = await provider.actions
      .stop_mail_forwarding!.execute({ ...account, primaryEmail: `unknown-${userId}@example.com` }, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/^google settings\.\w+: HTTP 403/);
  });

  it('autoProvision gives a leaver forwarding to a personal address, a forwarding filter, IMAP and POP', () => {
    const user = sandbox.state.autoProvision(freshSubject('auto').emails[0]!);
    const settings = sandbox.state.gmail.byUser.get(user.id)!;
    expect(settings.autoForwarding.enabled).toBe(true);
    expect(settings.filters.some((f) => f.action.forward === settings.autoForwarding.emailAddress)).toBe(true);
    expect(settings.imap.enabled && settings.pop.accessWindow !== 'disabled').toBe(true);
  });
});

describe('revoke_public_links', () => {
  it('removes every anyone permission on the files the user owns, keeps the rest, counts them, and verifies', async () => {
    const { subject, account, email } = await seeded({ files: 2, publicFiles: 3, domainFiles: 1 });
    const ctx = actionContext(subject);
    const result = await provider.actions.revoke_public_links!.execute(account, ctx);
    expect(result.evidence).toMatchObject({ links: 'anyone', permissionsRemoved: 3, permissionsAlreadyGone: 0, alreadyDone: false });
    expect(result.evidence.files).toHaveLength(3);
    // Read at the sandbox: no anyone permission left; the domain link, owners and colleagues stay.
    expect(publicLinksOf(email).map((p) => p.type)).toEqual(['domain']);
    expect(sandbox.state.drive.ownedBy(email).every((f) => f.permissions.some((p) => p.role === 'owner'))).toBe(true);
    expect(sandbox.state.drive.ownedBy(email).filter((f) => f.permissions.some((p) => p.role === 'writer'))).toHaveLength(6);
    expect(await provider.actions.revoke_public_links!.verify(account, ctx)).toEqual({
      links: 'anyone',
      publicPermissionsRemaining: 0,
      filesSearchedStillListed: 0,
    });
    const again = await provider.actions.revoke_public_links!.execute(account, ctx);
    expect(again.evidence).toMatchObject({ permissionsRemoved: 0, alreadyDone: true });
  });

  it('with links: anyone_and_domain the organisation-wide links go too', async () => {
    const { subject, account, email } = await seeded({ publicFiles: 1, domainFiles: 2 });
    const ctx = actionContext(subject, { params: { links: 'anyone_and_domain' } });
    const result = await provider.actions.revoke_public_links!.execute(account, ctx);
    expect(result.evidence.permissionsRemoved).toBe(3);
    expect(publicLinksOf(email)).toEqual([]);
    await provider.actions.revoke_public_links!.verify(account, ctx);
  });

  it('pages through a Drive of more than one page of public files', async () => {
    const { subject, account, email } = await seeded({ files: 5, publicFiles: 1001 });
    const ctx = actionContext(subject);
    const mark = sandbox.control.requests.length;
    const result = await provider.actions.revoke_public_links!.execute(account, ctx);
    expect(result.evidence.permissionsRemoved).toBe(1001);
    // Evidence names a bounded number of files; the count covers them all.
    expect(result.evidence.files).toHaveLength(50);
    expect(sandbox.control.countRequests('GET', /^\/drive\/v3\/files$/, mark)).toBe(2);
    expect(publicLinksOf(email)).toEqual([]);
  }, 30_000);

  it('verify names the links left when the sandbox lies, and catches a new public file (drift)', async () => {
    const { subject, account, email } = await seeded({ publicFiles: 2 });
    const ctx = actionContext(subject);
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.revoke_public_links!.execute(account, ctx);
    sandbox.control.setFaults({});
    const lied = await provider.actions.revoke_public_links!.verify(account, ctx).catch((e: unknown) => e);
    expect(lied).toBeInstanceOf(VerificationError);
    expect((lied as VerificationError).observed.publicPermissionsRemaining).toBe(2);
    await provider.actions.revoke_public_links!.execute(account, ctx);
    await provider.actions.revoke_public_links!.verify(account, ctx);
    const res = await fetch(`${sandbox.url}/__sandbox/users/${encodeURIComponent(email)}/files`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reach: 'anyone' }),
    });
    expect(res.status).toBe(201);
    await expect(provider.actions.revoke_public_links!.verify(account, ctx)).rejects.toBeInstanceOf(VerificationError);
  });

  it('an unknown links param is a PermanentError before any request', async () => {
    const { subject, account } = await seeded();
    const mark = sandbox.control.requests.length;
    const error = await provider.actions
      .revoke_public_links!.execute(account, actionContext(subject, { params: { links: 'everything' } }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(sandbox.control.requests.length).toBe(mark);
  });

  it('autoProvision gives a leaver one anyone-with-the-link file beside a private one', () => {
    const email = freshSubject('auto').emails[0]!;
    sandbox.state.autoProvision(email);
    expect(sandbox.state.drive.ownedBy(email).map(visibilityOf).sort()).toEqual(['anyoneWithLink', 'limited']);
  });
});

describe('the sandbox Drive search', () => {
  it('understands exactly the query the adapter sends, quotes escaped', () => {
    const q = publicFilesQuery("o'brien@example.com", 'anyone_and_domain');
    expect(q).toBe(
      "'o\\'brien@example.com' in owners and (visibility = 'anyoneWithLink' or visibility = 'anyoneCanFind' or visibility = 'domainWithLink' or visibility = 'domainCanFind')",
    );
    const test = parseQuery(q)!;
    const file = sandbox.state.drive.addFile("o'brien@example.com", 'domain', 'x');
    expect(test(file)).toBe(true);
    expect(parseQuery(publicFilesQuery("o'brien@example.com", 'anyone'))!(file)).toBe(false);
  });

  it("answers Drive's 400 on q for a term it does not know", async () => {
    const res = await fetch(`${sandbox.url}/drive/v3/files?q=${encodeURIComponent("name contains 'x'")}`, {
      headers: { authorization: `Bearer ${SANDBOX_ACCESS_TOKEN}` },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 400, errors: [{ reason: 'invalid', location: 'q' }] } });
  });
});
