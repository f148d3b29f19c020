/**
 * stop_mail_forwarding and revoke_public_links on the wire, with nock standing in for
 * Gmail and Drive: hosts, paths, query strings, bodies and order of every request, the
 * typed error of a failure, and the delegated identity the calls are made as.
 */
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { createGoogleProvider } from '../providers/google/adapter.ts';
import { createUserAuthClient } from '../providers/google/client.ts';
import { GOOGLE_DRIVE_SCOPES, GOOGLE_GMAIL_SCOPES, googleConfigSchema } from '../providers/google/config.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { strictNock } from './helpers/strict-nock.ts';

const GMAIL = 'https://gmail.googleapis.com';
const DRIVE = 'https://www.googleapis.com';
const TOKEN = 'ya29.static-test-token';
const BEARER = `Bearer ${TOKEN}`;
const account: AccountRef = { id: '100000000000000000123', primaryEmail: 'leaver@example.com', suspended: false };
const subject: Subject = { userName: 'leaver@example.com', emails: ['leaver@example.com'] };
const S = `/gmail/v1/users/${encodeURIComponent(account.primaryEmail as string)}/settings`;
const Q = "'leaver@example.com' in owners and (visibility = 'anyoneWithLink' or visibility = 'anyoneCanFind')";
const FILE_FIELDS = 'nextPageToken, incompleteSearch, files(id)';
const PERMISSION_FIELDS = 'nextPageToken, permissions(id, type, role, domain, allowFileDiscovery)';

strictNock();

function make(): Provider {
  const config = googleConfigSchema.parse({ adminSubject: 'admin@example.com', accessToken: TOKEN });
  return createGoogleProvider(config, { name: 'google-nock', logger: silentLogger() });
}

function googleError(code: number, reason: string, message: string) {
  return { error: { code, message, errors: [{ message, domain: 'global', reason }] } };
}

describe('the identity of Gmail and Drive calls', () => {
  it('a JWT whose subject is the leaver, asking only the scopes of that API', () => {
    const config = googleConfigSchema.parse({
      adminSubject: 'admin@example.com',
      serviceAccountKey: { client_email: 'sa@project.iam.gserviceaccount.com', private_key: 'not-a-real-key' },
    });
    const gmailAuth = createUserAuthClient(config, 'leaver@example.com', GOOGLE_GMAIL_SCOPES) as unknown as {
      subject: string;
      scopes: string[];
    };
    expect(gmailAuth.subject).toBe('leaver@example.com');
    expect(gmailAuth.scopes).toEqual([
      'https://www.googleapis.com/auth/gmail.settings.basic',
      'https://www.googleapis.com/auth/gmail.settings.sharing',
    ]);
    const driveAuth = createUserAuthClient(config, 'leaver@example.com', GOOGLE_DRIVE_SCOPES) as unknown as { scopes: string[] };
    expect(driveAuth.scopes).toEqual(['https://www.googleapis.com/auth/drive']);
  });
});

describe('stop_mail_forwarding', () => {
  it('reads each setting, PUTs exactly the field that closes it, deletes forwarding filters, then forwarding addresses', async () => {
    const order: string[] = [];
    const bodies: Record<string, unknown> = {};
    const put = (name: string) => (b: unknown) => ((bodies[name] = b), true);
    const scope = nock(GMAIL, { reqheaders: { authorization: BEARER } })
      .get(`${S}/autoForwarding`)
      .reply(200, { enabled: true, emailAddress: 'out@elsewhere.example', disposition: 'leaveInInbox' })
      .put(`${S}/autoForwarding`, put('autoForwarding'))
      .reply(() => (order.push('autoForwarding'), [200, { enabled: false }]))
      .get(`${S}/imap`)
      .reply(200, { enabled: true, autoExpunge: true, expungeBehavior: 'archive', maxFolderSize: 0 })
      .put(`${S}/imap`, put('imap'))
      .reply(200, { enabled: false })
      .get(`${S}/pop`)
      .reply(200, { accessWindow: 'allMail', disposition: 'leaveInInbox' })
      .put(`${S}/pop`, put('pop'))
      .reply(200, { accessWindow: 'disabled', disposition: 'leaveInInbox' })
      .get(`${S}/filters`)
      .reply(200, {
        filter: [
          { id: 'f1', criteria: { from: 'a@b.example' }, action: { forward: 'out@elsewhere.example' } },
          { id: 'f2', criteria: { subject: 'x' }, action: { addLabelIds: ['L1'] } },
          null,
        ],
      })
      .delete(`${S}/filters/f1`)
      .reply(() => (order.push('filter f1'), [204]))
      .get(`${S}/forwardingAddresses`)
      .reply(
        () => (
          order.push('list addresses'),
          [200, { forwardingAddresses: [{ forwardingEmail: 'out@elsewhere.example', verificationStatus: 'accepted' }] }]
        ),
      )
      .delete(`${S}/forwardingAddresses/${encodeURIComponent('out@elsewhere.example')}`)
      .reply(() => (order.push('delete address'), [204]));
    const result = await make().actions.stop_mail_forwarding!.execute(account, actionContext(subject));
    expect(bodies).toEqual({ autoForwarding: { enabled: false }, imap: { enabled: false }, pop: { accessWindow: 'disabled' } });
    // Addresses only once forwarding and the filters that use them are gone.
    expect(order.slice(-2)).toEqual(['list addresses', 'delete address']);
    expect(order.indexOf('autoForwarding')).toBeLessThan(order.indexOf('list addresses'));
    expect(order.indexOf('filter f1')).toBeLessThan(order.indexOf('list addresses'));
    expect(result.evidence).toEqual({
      autoForwarding: 'turned off (was to out@elsewhere.example)',
      imap: 'turned off',
      pop: 'turned off',
      forwardingFiltersRemoved: [{ id: 'f1', forwardTo: 'out@elsewhere.example' }],
      forwardingAddressesRemoved: ['out@elsewhere.example'],
      alreadyDone: false,
    });
    scope.done();
  });

  it('verify: a setting without its explicit value is not proof', async () => {
    const scope = nock(GMAIL)
      .get(`${S}/autoForwarding`)
      .reply(200, {})
      .get(`${S}/imap`)
      .reply(200, { enabled: false })
      .get(`${S}/pop`)
      .reply(200, { accessWindow: 'disabled' })
      .get(`${S}/filters`)
      .reply(200, {})
      .get(`${S}/forwardingAddresses`)
      .reply(200, {});
    const error = await make()
      .actions.stop_mail_forwarding!.verify(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toMatchObject({ autoForwardingEnabled: null });
    scope.done();
  });

  it("Gmail's 429 on a read is a RateLimitedError after one request", async () => {
    let count = 0;
    nock(GMAIL)
      .get(`${S}/autoForwarding`)
      .times(3)
      .reply(() => (count++, [429, googleError(429, 'rateLimitExceeded', 'Too many requests')]))
      .get(`${S}/imap`)
      .reply(200, { enabled: false })
      .get(`${S}/pop`)
      .reply(200, { accessWindow: 'disabled' })
      .get(`${S}/filters`)
      .reply(200, {});
    const error = await make()
      .actions.stop_mail_forwarding!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(count).toBe(1);
    // The interceptor left for a retry the client must not make.
    expect(nock.pendingMocks()).toHaveLength(1);
    nock.cleanAll();
  });

  it('a 403 (scope not delegated) on an active user is the PermanentError of the call, after reading the user', async () => {
    nock(GMAIL)
      .get(/\/settings\/(autoForwarding|imap|pop|filters)$/)
      .times(4)
      .reply(403, googleError(403, 'forbidden', 'Request had insufficient authentication scopes.'));
    nock('https://admin.googleapis.com').get(`/admin/directory/v1/users/${account.id}`).reply(200, { id: account.id, suspended: false });
    const error = await make()
      .actions.stop_mail_forwarding!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/^google settings\.\w+: HTTP 403/);
  });
});

describe('revoke_public_links', () => {
  it('files.list with the owner and visibility search across pages, permissions.list per file, DELETE the anyone permissions only', async () => {
    const scope = nock(DRIVE, { reqheaders: { authorization: BEARER } })
      .get('/drive/v3/files')
      .query({ q: Q, corpora: 'user', pageSize: '1000', fields: FILE_FIELDS })
      .reply(200, { kind: 'drive#fileList', incompleteSearch: false, nextPageToken: 'p2', files: [{ id: 'F1' }] })
      .get('/drive/v3/files')
      .query({ q: Q, corpora: 'user', pageSize: '1000', fields: FILE_FIELDS, pageToken: 'p2' })
      .reply(200, { kind: 'drive#fileList', incompleteSearch: false, files: [{ id: 'F2' }] })
      .get('/drive/v3/files/F1/permissions')
      .query({ pageSize: '100', fields: PERMISSION_FIELDS })
      .reply(200, {
        nextPageToken: 'q2',
        permissions: [
          { id: '01', type: 'user', role: 'owner' },
          { id: 'anyoneWithLink', type: 'anyone', role: 'reader', allowFileDiscovery: false },
        ],
      })
      .get('/drive/v3/files/F1/permissions')
      .query({ pageSize: '100', fields: PERMISSION_FIELDS, pageToken: 'q2' })
      .reply(200, { permissions: [{ id: '07', type: 'domain', role: 'reader', domain: 'example.com' }] })
      .delete('/drive/v3/files/F1/permissions/anyoneWithLink')
      .reply(204)
      .get('/drive/v3/files/F2/permissions')
      .query({ pageSize: '100', fields: PERMISSION_FIELDS })
      .reply(200, { permissions: [{ id: 'anyone', type: 'anyone', role: 'writer', allowFileDiscovery: true }] })
      .delete('/drive/v3/files/F2/permissions/anyone')
      .reply(404, googleError(404, 'notFound', 'Permission not found: anyone.'));
    const result = await make().actions.revoke_public_links!.execute(account, actionContext(subject));
    expect(result.evidence).toEqual({
      links: 'anyone',
      permissionsRemoved: 1,
      permissionsAlreadyGone: 1,
      files: [
        { fileId: 'F1', removed: ['anyone:reader'] },
        { fileId: 'F2', removed: ['anyone:writer'] },
      ],
      alreadyDone: false,
    });
    scope.done();
  });

  it('verify: a file the search still lists but whose permissions are closed is no link left; an incomplete search proves nothing', async () => {
    nock(DRIVE)
      .get('/drive/v3/files')
      .query(true)
      .reply(200, { incompleteSearch: false, files: [{ id: 'F1' }] })
      .get('/drive/v3/files/F1/permissions')
      .query(true)
      .reply(200, { permissions: [{ id: '01', type: 'user', role: 'owner' }] });
    expect(await make().actions.revoke_public_links!.verify(account, actionContext(subject))).toEqual({
      links: 'anyone',
      publicPermissionsRemaining: 0,
      filesSearchedStillListed: 1,
    });
    nock(DRIVE).get('/drive/v3/files').query(true).reply(200, { incompleteSearch: true, files: [] });
    await expect(make().actions.revoke_public_links!.verify(account, actionContext(subject))).rejects.toBeInstanceOf(VerificationError);
  });

  it('a 503 on a delete is a TransientError after one request', async () => {
    let count = 0;
    nock(DRIVE)
      .get('/drive/v3/files')
      .query(true)
      .reply(200, { files: [{ id: 'F1' }] })
      .get('/drive/v3/files/F1/permissions')
      .query(true)
      .reply(200, { permissions: [{ id: 'anyoneWithLink', type: 'anyone', role: 'reader' }] })
      .delete('/drive/v3/files/F1/permissions/anyoneWithLink')
      .times(3)
      .reply(() => (count++, [503, googleError(503, 'backendError', 'unavailable')]));
    const error = await make()
      .actions.revoke_public_links!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(count).toBe(1);
    // The interceptor left for a retry the client must not make.
    expect(nock.pendingMocks()).toHaveLength(1);
    nock.cleanAll();
  });
});
