/**
 * Google wipe_devices on the wire, with nock standing in for the Directory API: the exact
 * mobiledevices.list query and mobiledevices.action body, which devices get a command (only
 * the user's own, only those not already wiping), the honest `requested:` read-back, and the
 * typed error of each failure.
 */
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { createGoogleProvider } from '../providers/google/adapter.ts';
import { googleConfigSchema } from '../providers/google/config.ts';
import { PermanentError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { strictNock } from './helpers/strict-nock.ts';

const API = 'https://admin.googleapis.com';
const DEVICES = '/admin/directory/v1/customer/my_customer/devices/mobile';
const TOKEN = 'ya29.static-test-token';
const account: AccountRef = { id: '100000000000000000123', primaryEmail: 'leaver@example.com', suspended: false };
const subject: Subject = { userName: 'leaver@example.com', emails: ['leaver@example.com'] };
const LIST_QUERY = { query: 'email:leaver@example.com', projection: 'FULL', maxResults: '100' };

function make(): Provider {
  const config = googleConfigSchema.parse({ adminSubject: 'admin@example.com', accessToken: TOKEN });
  return createGoogleProvider(config, { name: 'google-nock', logger: silentLogger() });
}

const device = (resourceId: string, status: string, email = 'leaver@example.com') => ({
  kind: 'admin#directory#mobiledevice',
  resourceId,
  email: [email],
  model: 'Pixel 8',
  type: 'ANDROID',
  status,
  imei: '356938035643809',
});

function googleError(code: number, reason: string, message: string) {
  return { error: { code, message, errors: [{ message, domain: 'global', reason }] } };
}

strictNock();

describe('google wipe_devices: execute', () => {
  it("lists the customer's devices by email:, and sends admin_account_wipe to each of the user's devices not already wiping", async () => {
    const bodies: Array<{ id: string; body: unknown }> = [];
    const scope = nock(API, { reqheaders: { authorization: `Bearer ${TOKEN}` } })
      .get(DEVICES)
      .query(LIST_QUERY)
      .reply(200, {
        kind: 'admin#directory#mobiledevices',
        mobiledevices: [
          device('phone', 'APPROVED'),
          device('tablet', 'ACCOUNT_WIPING'),
          // The search matches prefixes and words: a colleague's phone is never the leaver's.
          device('colleague', 'APPROVED', 'leaver@example.com.au'),
          { resourceId: 7, email: 'leaver@example.com' },
          null,
        ],
      })
      .post(`${DEVICES}/phone/action`, (b) => (bodies.push({ id: 'phone', body: b }), true))
      .reply(204);
    const result = await make().actions.wipe_devices!.execute(account, actionContext(subject));
    expect(bodies).toEqual([{ id: 'phone', body: { action: 'admin_account_wipe' } }]);
    expect(result.evidence).toEqual({
      action: 'admin_account_wipe',
      requested: [{ resourceId: 'phone', model: 'Pixel 8', type: 'ANDROID', status: 'APPROVED', statusBefore: 'APPROVED' }],
      alreadyRequested: [{ resourceId: 'tablet', model: 'Pixel 8', type: 'ANDROID', status: 'ACCOUNT_WIPING' }],
      devicesFound: 2,
      alreadyDone: false,
    });
    // What identifies a person's hardware beyond the model stays out of the evidence.
    expect(JSON.stringify(result.evidence)).not.toContain('356938035643809');
    scope.done();
  });

  it('fullWipe: true sends admin_remote_wipe, also to a device that only had its account wiped', async () => {
    const bodies: unknown[] = [];
    nock(API)
      .get(DEVICES)
      .query(LIST_QUERY)
      .reply(200, { mobiledevices: [device('phone', 'ACCOUNT_WIPING'), device('old', 'WIPED')] })
      .post(`${DEVICES}/phone/action`, (b) => (bodies.push(b), true))
      .reply(204);
    const result = await make().actions.wipe_devices!.execute(account, actionContext(subject, { params: { fullWipe: true } }));
    expect(bodies).toEqual([{ action: 'admin_remote_wipe' }]);
    expect(result.evidence.alreadyDone).toBe(false);
  });

  it('follows nextPageToken, and a user with no device is already done', async () => {
    nock(API)
      .get(DEVICES)
      .query(LIST_QUERY)
      .reply(200, { mobiledevices: [device('a', 'ACCOUNT_WIPED')], nextPageToken: 'p2' })
      .get(DEVICES)
      .query({ ...LIST_QUERY, pageToken: 'p2' })
      .reply(200, { kind: 'admin#directory#mobiledevices' });
    const result = await make().actions.wipe_devices!.execute(account, actionContext(subject));
    expect(result.evidence).toMatchObject({ requested: [], devicesFound: 1, alreadyDone: true });
  });

  it('a fullWipe that is not a boolean is refused before any request', async () => {
    const error = await make()
      .actions.wipe_devices!.execute(account, actionContext(subject, { params: { fullWipe: 'yes' } }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
  });

  it('a 403 on the action (scope not delegated) is PermanentError after one POST; a 503 is TransientError', async () => {
    const posts = { count: 0 };
    nock(API)
      .get(DEVICES)
      .query(LIST_QUERY)
      .reply(200, { mobiledevices: [device('phone', 'APPROVED')] })
      .post(`${DEVICES}/phone/action`)
      .reply(() => ((posts.count += 1), [403, googleError(403, 'forbidden', 'Not Authorized to access this resource/api')]));
    await expect(make().actions.wipe_devices!.execute(account, actionContext(subject))).rejects.toBeInstanceOf(PermanentError);
    expect(posts.count).toBe(1);

    nock(API)
      .get(DEVICES)
      .query(LIST_QUERY)
      .reply(503, googleError(503, 'backendError', 'unavailable'));
    await expect(make().actions.wipe_devices!.execute(account, actionContext(subject))).rejects.toBeInstanceOf(TransientError);
  });
});

describe('google wipe_devices: verify', () => {
  it('a device that has not synced since the command is reported as requested, never as wiped', async () => {
    nock(API)
      .get(DEVICES)
      .query(LIST_QUERY)
      .reply(200, { mobiledevices: [device('phone', 'ACCOUNT_WIPING'), device('old', 'ACCOUNT_WIPED')] });
    expect(await make().actions.wipe_devices!.verify(account, actionContext(subject))).toEqual({
      action: 'admin_account_wipe',
      devices: [
        { resourceId: 'phone', model: 'Pixel 8', type: 'ANDROID', status: 'ACCOUNT_WIPING' },
        { resourceId: 'old', model: 'Pixel 8', type: 'ANDROID', status: 'ACCOUNT_WIPED' },
      ],
      devicesPending: 1,
      wipe: 'requested: 1 of 2 device(s) have not synced since the wipe was sent',
    });
  });

  it('every device wiped reads back with nothing pending', async () => {
    nock(API)
      .get(DEVICES)
      .query(LIST_QUERY)
      .reply(200, { mobiledevices: [device('phone', 'ACCOUNT_WIPED')] });
    const evidence = await make().actions.wipe_devices!.verify(account, actionContext(subject));
    expect(evidence).toMatchObject({ devicesPending: 0 });
    expect(evidence).not.toHaveProperty('wipe');
  });

  it('a device showing no wipe (the command lost, or cancelled) is a VerificationError; an account wipe is not a full wipe', async () => {
    nock(API)
      .get(DEVICES)
      .query(LIST_QUERY)
      .reply(200, { mobiledevices: [device('phone', 'APPROVED')] });
    await expect(make().actions.wipe_devices!.verify(account, actionContext(subject))).rejects.toBeInstanceOf(VerificationError);
    nock(API)
      .get(DEVICES)
      .query(LIST_QUERY)
      .reply(200, { mobiledevices: [device('phone', 'ACCOUNT_WIPED')] });
    await expect(
      make().actions.wipe_devices!.verify(account, actionContext(subject, { params: { fullWipe: true } })),
    ).rejects.toBeInstanceOf(VerificationError);
  });
});
