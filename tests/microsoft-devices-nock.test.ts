/**
 * Microsoft wipe_devices on the wire, with nock on graph.microsoft.com: the managed devices
 * listed, `retire` (or `wipe` with its exact body) sent to each device not already retiring,
 * before any Entra device object is disabled; only Windows objects are PATCHed; the honest
 * `requested:` read-back; and the typed error of each failure.
 */
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { microsoftModule, type MicrosoftConfig } from '../providers/microsoft/index.ts';
import { PermanentError, RateLimitedError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { strictNock } from './helpers/strict-nock.ts';

const GRAPH = 'https://graph.microsoft.com';
const LOGIN = 'https://login.microsoftonline.com';
const TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOi.devices-token';
const config: MicrosoftConfig = { tenantId: 'contoso-tenant', clientId: 'client-1', clientSecret: 'client-secret-value', baseUrl: GRAPH };
const account: AccountRef = { id: 'u-1', userPrincipalName: 'leaver@contoso.com' };
const subject: Subject = { userName: 'leaver@contoso.com', emails: ['leaver@contoso.com'] };
const LIST = { $select: 'id,deviceName,operatingSystem,managementState,azureADDeviceId' };
const ENTRA_SELECT = 'id,deviceId,displayName,operatingSystem,accountEnabled';
const PHONE_DEVICE_ID = '11111111-1111-4111-8111-111111111111';
const LAPTOP_DEVICE_ID = '22222222-2222-4222-8222-222222222222';

function build(): Provider {
  nock(LOGIN)
    .post('/contoso-tenant/oauth2/v2.0/token')
    .reply(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: TOKEN });
  return microsoftModule.create(config, { name: 'entra', logger: silentLogger() });
}

const graph = () => nock(GRAPH, { reqheaders: { authorization: `Bearer ${TOKEN}` } });
const managed = (id: string, os: string, state: string, azureADDeviceId: string) => ({
  id,
  deviceName: `${os} device`,
  operatingSystem: os,
  managementState: state,
  azureADDeviceId,
});

strictNock();

describe('microsoft wipe_devices: execute', () => {
  it('retires each managed device first, then disables the Windows device objects; the iPhone object is named, not patched', async () => {
    const order: string[] = [];
    const provider = build();
    graph()
      .get('/v1.0/users/u-1/managedDevices')
      .query(LIST)
      .reply(
        () => (
          order.push('list'),
          [
            200,
            {
              value: [
                managed('md-phone', 'iOS', 'managed', PHONE_DEVICE_ID),
                managed('md-laptop', 'Windows', 'managed', LAPTOP_DEVICE_ID),
                managed('md-old', 'Android', 'retirePending', '00000000-0000-0000-0000-000000000000'),
                null,
              ],
            },
          ]
        ),
      )
      .post('/v1.0/deviceManagement/managedDevices/md-phone/retire', (body) => (order.push(`retire phone ${JSON.stringify(body)}`), true))
      .reply(204)
      .post('/v1.0/deviceManagement/managedDevices/md-laptop/retire')
      .reply(() => (order.push('retire laptop'), [204]))
      .get('/v1.0/devices')
      .query({ $filter: `deviceId eq '${PHONE_DEVICE_ID}'`, $select: ENTRA_SELECT })
      .reply(
        () => (
          order.push('find phone'),
          [200, { value: [{ id: 'd-phone', deviceId: PHONE_DEVICE_ID, operatingSystem: 'iOS', accountEnabled: true }] }]
        ),
      )
      .get('/v1.0/devices')
      .query({ $filter: `deviceId eq '${LAPTOP_DEVICE_ID}'`, $select: ENTRA_SELECT })
      .reply(
        () => (
          order.push('find laptop'),
          [200, { value: [{ id: 'd-laptop', deviceId: LAPTOP_DEVICE_ID, operatingSystem: 'Windows', accountEnabled: true }] }]
        ),
      )
      .patch('/v1.0/devices/d-laptop', (body) => (order.push(`patch laptop ${JSON.stringify(body)}`), true))
      .reply(204);
    const result = await provider.actions.wipe_devices!.execute(account, actionContext(subject));
    // retire carries no body (nock sees an empty one); every command is queued before any device object is touched.
    expect(order).toEqual([
      'list',
      'retire phone ""',
      'retire laptop',
      'find phone',
      'find laptop',
      'patch laptop {"accountEnabled":false}',
    ]);
    expect(result.evidence).toMatchObject({
      command: 'retire',
      requested: [
        { id: 'md-phone', managementStateBefore: 'managed' },
        { id: 'md-laptop', managementStateBefore: 'managed' },
      ],
      alreadyRequested: [{ id: 'md-old', managementState: 'retirePending' }],
      entraDevicesDisabled: [{ id: 'd-laptop', accountEnabled: false }],
      entraDevicesLeftEnabled: [{ id: 'd-phone', operatingSystem: 'iOS', reason: expect.stringContaining('not Windows') }],
      alreadyDone: false,
    });
  });

  it('fullWipe: true sends wipe with keepEnrollmentData and keepUserData false, also to a device only retiring', async () => {
    const bodies: unknown[] = [];
    const provider = build();
    graph()
      .get('/v1.0/users/u-1/managedDevices')
      .query(LIST)
      .reply(200, { value: [managed('md-phone', 'iOS', 'retirePending', 'not-a-guid')] })
      .post('/v1.0/deviceManagement/managedDevices/md-phone/wipe', (body) => (bodies.push(body), true))
      .reply(204);
    const result = await provider.actions.wipe_devices!.execute(account, actionContext(subject, { params: { fullWipe: true } }));
    expect(bodies).toEqual([{ keepEnrollmentData: false, keepUserData: false }]);
    expect(result.evidence).toMatchObject({ command: 'wipe', alreadyDone: false });
  });

  it('a throttled retire is RateLimitedError and is sent once; a 403 (permission not consented) is PermanentError', async () => {
    let posts = 0;
    const provider = build();
    graph()
      .get('/v1.0/users/u-1/managedDevices')
      .query(LIST)
      .times(2)
      .reply(200, { value: [managed('md-phone', 'iOS', 'managed', PHONE_DEVICE_ID)] })
      .post('/v1.0/deviceManagement/managedDevices/md-phone/retire')
      .reply(() => ((posts += 1), [429, { error: { code: 'TooManyRequests', message: 'slow down' } }, { 'Retry-After': '7' }]))
      .post('/v1.0/deviceManagement/managedDevices/md-phone/retire')
      .reply(403, { error: { code: 'Forbidden', message: 'Application is not authorized to perform this operation.' } });
    const throttled = await provider.actions.wipe_devices!.execute(account, actionContext(subject)).catch((e: unknown) => e);
    expect(throttled).toBeInstanceOf(RateLimitedError);
    expect((throttled as RateLimitedError).retryAfterMs).toBe(7000);
    expect(posts).toBe(1);
    await expect(provider.actions.wipe_devices!.execute(account, actionContext(subject))).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('microsoft wipe_devices: verify', () => {
  it('a device still retirePending reads back as requested; a disabled Windows object is read back', async () => {
    const provider = build();
    graph()
      .get('/v1.0/users/u-1/managedDevices')
      .query(LIST)
      .reply(200, { value: [managed('md-laptop', 'Windows', 'retirePending', LAPTOP_DEVICE_ID)] })
      .get('/v1.0/devices')
      .query({ $filter: `deviceId eq '${LAPTOP_DEVICE_ID}'`, $select: ENTRA_SELECT })
      .reply(200, { value: [{ id: 'd-laptop', displayName: 'LAPTOP-1', operatingSystem: 'Windows', accountEnabled: false }] });
    expect(await provider.actions.wipe_devices!.verify(account, actionContext(subject))).toEqual({
      command: 'retire',
      managedDevices: [{ id: 'md-laptop', deviceName: 'Windows device', operatingSystem: 'Windows', managementState: 'retirePending' }],
      entraDevices: [{ id: 'd-laptop', displayName: 'LAPTOP-1', operatingSystem: 'Windows', accountEnabled: false }],
      retire: 'requested: 1 managed device(s) have not checked in since the retire was sent',
    });
  });

  it('no managed device left (retired) is done; a device still managed, or a Windows object still enabled, is a VerificationError', async () => {
    const provider = build();
    graph().get('/v1.0/users/u-1/managedDevices').query(LIST).reply(200, { value: [] });
    expect(await provider.actions.wipe_devices!.verify(account, actionContext(subject))).toEqual({
      command: 'retire',
      managedDevices: [],
      entraDevices: [],
    });
    graph()
      .get('/v1.0/users/u-1/managedDevices')
      .query(LIST)
      .reply(200, { value: [managed('md-phone', 'iOS', 'retireFailed', PHONE_DEVICE_ID)] });
    await expect(provider.actions.wipe_devices!.verify(account, actionContext(subject))).rejects.toBeInstanceOf(VerificationError);
    graph()
      .get('/v1.0/users/u-1/managedDevices')
      .query(LIST)
      .reply(200, { value: [managed('md-laptop', 'Windows', 'retireIssued', LAPTOP_DEVICE_ID)] })
      .get('/v1.0/devices')
      .query({ $filter: `deviceId eq '${LAPTOP_DEVICE_ID}'`, $select: ENTRA_SELECT })
      .reply(200, { value: [{ id: 'd-laptop', operatingSystem: 'Windows', accountEnabled: true }] });
    await expect(provider.actions.wipe_devices!.verify(account, actionContext(subject))).rejects.toBeInstanceOf(VerificationError);
  });
});
