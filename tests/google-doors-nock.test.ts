/**
 * The Google "doors" actions' exact wire traffic, with nock standing in for Google: paths,
 * bodies and order of every request, and the typed error of each failure.
 */
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { createGoogleProvider } from '../providers/google/adapter.ts';
import { googleConfigSchema } from '../providers/google/config.ts';
import { PermanentError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';

const API = 'https://admin.googleapis.com';
const D = '/admin/directory/v1';
const TOKEN = 'ya29.static-test-token';
const BEARER = `Bearer ${TOKEN}`;
const account: AccountRef = { id: '100000000000000000123', primaryEmail: 'leaver@example.com', suspended: false };
const subject: Subject = { userName: 'leaver@example.com', emails: ['leaver@example.com'] };

function make(): Provider {
  const config = googleConfigSchema.parse({ adminSubject: 'admin@example.com', accessToken: TOKEN });
  return createGoogleProvider(config, { name: 'google-nock', logger: silentLogger() });
}

function googleError(code: number, reason: string, message: string) {
  return { error: { code, message, errors: [{ message, domain: 'global', reason }] } };
}

beforeAll(() => {
  nock.disableNetConnect();
});
afterEach(() => {
  nock.cleanAll();
});
afterAll(() => {
  nock.enableNetConnect();
});

describe('clear_recovery', () => {
  it('POST verificationCodes/invalidate with no body first, then users.get, then PUT exactly the two recovery fields', async () => {
    const order: string[] = [];
    let invalidateBody: unknown = 'not sent';
    let putBody: unknown;
    const scope = nock(API, { reqheaders: { authorization: BEARER } })
      .post(`${D}/users/${account.id}/verificationCodes/invalidate`, (b) => {
        invalidateBody = b;
        return true;
      })
      .reply(() => (order.push('invalidate'), [204]))
      .get(`${D}/users/${account.id}`)
      .reply(() => (order.push('get'), [200, { id: account.id, recoveryEmail: 'me@personal.example', recoveryPhone: '+15551234567' }]))
      .put(`${D}/users/${account.id}`, (b) => {
        putBody = b;
        return true;
      })
      .reply(() => (order.push('update'), [200, { id: account.id }]));
    const result = await make().actions.clear_recovery!.execute(account, actionContext(subject));
    expect(order).toEqual(['invalidate', 'get', 'update']);
    // The SDK sends no JSON body for a method whose request body must be empty.
    expect(invalidateBody === '' || invalidateBody === undefined).toBe(true);
    expect(putBody).toEqual({ recoveryEmail: '', recoveryPhone: '' });
    expect(result.evidence).toEqual({ backupCodes: 'invalidated', recoveryEmailCleared: true, recoveryPhoneCleared: true });
    scope.done();
  });

  it('verify: users.get and verificationCodes.list, both empty', async () => {
    const scope = nock(API, { reqheaders: { authorization: BEARER } })
      .get(`${D}/users/${account.id}`)
      .reply(200, { id: account.id })
      .get(`${D}/users/${account.id}/verificationCodes`)
      .reply(200, { kind: 'admin#directory#verificationCodesList' });
    expect(await make().actions.clear_recovery!.verify(account, actionContext(subject))).toEqual({
      backupCodesRemaining: 0,
      recoveryEmail: 'empty',
      recoveryPhone: 'empty',
    });
    scope.done();
  });

  it('a 400 on a suspended user with codes is PermanentError; the codes never reach the error', async () => {
    const scope = nock(API)
      .post(`${D}/users/${account.id}/verificationCodes/invalidate`)
      .reply(400, googleError(400, 'invalid', 'Invalid Input'))
      .get(`${D}/users/${account.id}`)
      .reply(200, { id: account.id, suspended: true })
      .get(`${D}/users/${account.id}/verificationCodes`)
      .reply(200, { items: [{ verificationCode: '12345678' }, { verificationCode: '87654321' }] });
    const error = await make()
      .actions.clear_recovery!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/still has 2 backup codes/);
    expect(JSON.stringify(error) + (error as Error).message).not.toMatch(/12345678|87654321/);
    scope.done();
  });

  it('a 400 on an active user stays the PermanentError of the call', async () => {
    const scope = nock(API)
      .post(`${D}/users/${account.id}/verificationCodes/invalidate`)
      .reply(400, googleError(400, 'invalid', 'Invalid Input'))
      .get(`${D}/users/${account.id}`)
      .reply(200, { id: account.id, suspended: false });
    const error = await make()
      .actions.clear_recovery!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/verificationCodes\.invalidate: HTTP 400/);
    scope.done();
  });

  it('a 503 on the invalidate POST is TransientError after one request', async () => {
    let count = 0;
    nock(API)
      .post(`${D}/users/${account.id}/verificationCodes/invalidate`)
      .times(3)
      .reply(() => (count++, [503, googleError(503, 'backendError', 'unavailable')]));
    const error = await make()
      .actions.clear_recovery!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(count).toBe(1);
  });
});

describe('remove_mfa', () => {
  it('users.get, then POST twoStepVerification/turnOff with no body', async () => {
    let body: unknown = 'not sent';
    const scope = nock(API, { reqheaders: { authorization: BEARER } })
      .get(`${D}/users/${account.id}`)
      .reply(200, { id: account.id, isEnrolledIn2Sv: true, isEnforcedIn2Sv: false })
      .post(`${D}/users/${account.id}/twoStepVerification/turnOff`, (b) => {
        body = b;
        return true;
      })
      .reply(204);
    const result = await make().actions.remove_mfa!.execute(account, actionContext(subject));
    expect(body === '' || body === undefined).toBe(true);
    expect(result.evidence).toEqual({ turnOff: 'sent', isEnforcedIn2Sv: false, alreadyDone: false });
    scope.done();
  });

  it('a user not enrolled gets no turnOff', async () => {
    const scope = nock(API).get(`${D}/users/${account.id}`).reply(200, { id: account.id, isEnrolledIn2Sv: false });
    const result = await make().actions.remove_mfa!.execute(account, actionContext(subject));
    expect(result.evidence).toEqual({ isEnrolledIn2Sv: false, alreadyDone: true });
    scope.done();
  });

  it('verify: a user without the isEnrolledIn2Sv field is not proof', async () => {
    const scope = nock(API).get(`${D}/users/${account.id}`).reply(200, { id: account.id });
    const error = await make()
      .actions.remove_mfa!.verify(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({ isEnrolledIn2Sv: null });
    scope.done();
  });

  it('a 403 without a quota reason (missing scope) on turnOff is PermanentError after one request', async () => {
    let count = 0;
    nock(API)
      .get(`${D}/users/${account.id}`)
      .reply(200, { id: account.id, isEnrolledIn2Sv: true })
      .post(`${D}/users/${account.id}/twoStepVerification/turnOff`)
      .times(3)
      .reply(() => (count++, [403, googleError(403, 'forbidden', 'Not Authorized to access this resource/api')]));
    const error = await make()
      .actions.remove_mfa!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(count).toBe(1);
  });
});

describe('remove_admin_roles', () => {
  it('users.get, makeAdmin {"status":false}, roleAssignments.list by userKey across pages, then DELETE each by id', async () => {
    const bodies: unknown[] = [];
    const R = `${D}/customer/C01abc/roleassignments`;
    const scope = nock(API, { reqheaders: { authorization: BEARER } })
      .get(`${D}/users/${account.id}`)
      .reply(200, { id: account.id, isAdmin: true })
      .post(`${D}/users/${account.id}/makeAdmin`, (b) => (bodies.push(b), true))
      .reply(204)
      .get(R)
      .query({ userKey: account.id, maxResults: '100' })
      .reply(200, { items: [{ roleAssignmentId: '11', roleId: '7', scopeType: 'CUSTOMER' }], nextPageToken: 'p2' })
      .get(R)
      .query({ userKey: account.id, maxResults: '100', pageToken: 'p2' })
      .reply(200, { items: [{ roleAssignmentId: '12', roleId: '8', scopeType: 'ORG_UNIT', orgUnitId: 'ou1' }] })
      .delete(`${R}/11`)
      .reply(204)
      .delete(`${R}/12`)
      .reply(404, googleError(404, 'notFound', 'Resource Not Found: roleAssignmentId'));
    const provider = createGoogleProvider(
      googleConfigSchema.parse({ adminSubject: 'admin@example.com', accessToken: TOKEN, customer: 'C01abc' }),
      { name: 'google-nock', logger: silentLogger() },
    );
    const result = await provider.actions.remove_admin_roles!.execute(account, actionContext(subject));
    expect(bodies).toEqual([{ status: false }]);
    expect(result.evidence).toEqual({
      superAdminRevoked: true,
      rolesRemoved: [
        { roleAssignmentId: '11', roleId: '7', scopeType: 'CUSTOMER' },
        { roleAssignmentId: '12', roleId: '8', scopeType: 'ORG_UNIT', orgUnitId: 'ou1' },
      ],
      alreadyDone: false,
    });
    scope.done();
  });

  it('a user without admin roles gets no write', async () => {
    const scope = nock(API)
      .get(`${D}/users/${account.id}`)
      .reply(200, { id: account.id, isAdmin: false })
      .get(`${D}/customer/my_customer/roleassignments`)
      .query({ userKey: account.id, maxResults: '100' })
      .reply(200, { kind: 'admin#directory#roleAssignments' });
    const result = await make().actions.remove_admin_roles!.execute(account, actionContext(subject));
    expect(result.evidence).toEqual({ superAdminRevoked: false, rolesRemoved: [], alreadyDone: true });
    scope.done();
  });
});

describe('reset_password', () => {
  it('PUT users/{id} with exactly a fresh 32-character password and changePasswordAtNextLogin, no hashFunction', async () => {
    const bodies: Array<Record<string, unknown>> = [];
    const scope = nock(API, { reqheaders: { authorization: BEARER } })
      .put(`${D}/users/${account.id}`, (b: Record<string, unknown>) => (bodies.push(b), true))
      .times(2)
      .reply(200, { id: account.id, changePasswordAtNextLogin: true });
    const provider = make();
    const result = await provider.actions.reset_password!.execute(account, actionContext(subject));
    await provider.actions.reset_password!.execute(account, actionContext(subject));
    expect(Object.keys(bodies[0]!).sort()).toEqual(['changePasswordAtNextLogin', 'password']);
    expect(bodies[0]!.changePasswordAtNextLogin).toBe(true);
    expect(bodies[0]!.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(bodies[1]!.password).not.toBe(bodies[0]!.password);
    expect(JSON.stringify(result.evidence)).not.toContain(String(bodies[0]!.password));
    scope.done();
  });

  it('a 400 on the write is PermanentError and the password is nowhere in it', async () => {
    let sent = '';
    nock(API)
      .put(`${D}/users/${account.id}`, (b: Record<string, unknown>) => ((sent = String(b.password)), true))
      .reply(400, googleError(400, 'invalid', 'Invalid Password'));
    const error = await make()
      .actions.reset_password!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(sent).toHaveLength(32);
    const seen = `${(error as Error).message} ${(error as Error).stack ?? ''} ${JSON.stringify(error)}`;
    expect(seen).not.toContain(sent);
  });
});
