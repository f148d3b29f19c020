/**
 * The device slices of the Google and Microsoft sandboxes, on the wire: what they refuse
 * the way the real APIs do (an unknown search clause or action, a non-Windows device object
 * changed with application permissions), a command pending until the device syncs, and the
 * kit's fault injection reaching the device routes too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGoogleSandbox, SANDBOX_ACCESS_TOKEN, type GoogleSandbox } from '../providers/google/sandbox.ts';
import {
  seedMicrosoftUser,
  startMicrosoftSandbox,
  SANDBOX_CLIENT_ID,
  SANDBOX_CLIENT_SECRET,
  SANDBOX_TENANT_ID,
} from '../providers/microsoft/sandbox.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';

describe('Google sandbox: mobile devices', () => {
  let sandbox: GoogleSandbox;
  const devices = () => `${sandbox.url}/admin/directory/v1/customer/my_customer/devices/mobile`;
  const call = (url: string, init: RequestInit = {}) =>
    fetch(url, { ...init, headers: { authorization: `Bearer ${SANDBOX_ACCESS_TOKEN}`, 'content-type': 'application/json' } });

  beforeAll(async () => {
    sandbox = await startGoogleSandbox();
    await sandboxControl(sandbox.url, '/users', { primaryEmail: 'ann@example.com' });
    await sandboxControl(sandbox.url, '/users', { primaryEmail: 'ann@example.com.au' });
    await sandboxControl(sandbox.url, '/users/ann@example.com/devices', { model: 'Pixel 8' });
    await sandboxControl(sandbox.url, '/users/ann@example.com.au/devices', {});
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('searches by email: exactly or by prefix, and refuses a clause it does not know instead of matching everything', async () => {
    const exact = (await (await call(`${devices()}?query=${encodeURIComponent('email:ann@example.com')}`)).json()) as {
      mobiledevices: Array<{ email: string[] }>;
    };
    expect(exact.mobiledevices.map((d) => d.email)).toEqual([['ann@example.com']]);
    const prefix = (await (await call(`${devices()}?query=${encodeURIComponent('email:ann*')}`)).json()) as { mobiledevices: unknown[] };
    expect(prefix.mobiledevices).toHaveLength(2);
    const refused = await call(`${devices()}?query=${encodeURIComponent('serial:525*')}`);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: 400, errors: [{ reason: 'invalid' }] } });
  });

  it('an account wipe stays ACCOUNT_WIPING until the device syncs; unknown actions and devices are refused', async () => {
    const [phone] = await sandboxControl<Array<{ resourceId: string }>>(sandbox.url, '/users/ann@example.com/devices');
    const action = `${devices()}/${phone!.resourceId}/action`;
    expect((await call(action, { method: 'POST', body: JSON.stringify({ action: 'self_destruct' }) })).status).toBe(400);
    expect(
      (await call(`${devices()}/nope/action`, { method: 'POST', body: JSON.stringify({ action: 'admin_account_wipe' }) })).status,
    ).toBe(404);
    expect((await call(action, { method: 'POST', body: JSON.stringify({ action: 'admin_account_wipe' }) })).status).toBe(204);
    const read = async () => ((await (await call(`${devices()}/${phone!.resourceId}`)).json()) as { status: string }).status;
    expect(await read()).toBe('ACCOUNT_WIPING');
    await sandboxControl(sandbox.url, `/devices/${phone!.resourceId}/sync`, {});
    expect(await read()).toBe('ACCOUNT_WIPED');
  });

  it("answers the device routes with the kit's faults: Google's 403 rate limit and its 503", async () => {
    sandbox.control.setFaults({ rateLimitRate: 1 });
    try {
      const limited = await call(`${devices()}?query=email:ann@example.com`);
      expect(limited.status).toBe(403);
      expect(await limited.json()).toMatchObject({ error: { errors: [{ reason: 'rateLimitExceeded' }] } });
      sandbox.control.setFaults({ errorRate: 1 });
      expect((await call(`${devices()}?query=email:ann@example.com`)).status).toBe(503);
    } finally {
      sandbox.control.setFaults({});
    }
  });
});

describe('Microsoft sandbox: managed devices and device objects', () => {
  let sandbox: RunningSandbox;
  let token: string;
  const graph = (path: string, init: RequestInit = {}) =>
    fetch(`${sandbox.url}/v1.0${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });

  beforeAll(async () => {
    sandbox = await startMicrosoftSandbox();
    const res = await fetch(`${sandbox.url}/${SANDBOX_TENANT_ID}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: SANDBOX_CLIENT_ID,
        client_secret: SANDBOX_CLIENT_SECRET,
        scope: 'https://graph.microsoft.com/.default',
      }),
    });
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('refuses accountEnabled on a non-Windows device object (app-only), accepts it on a Windows one', async () => {
    const user = await seedMicrosoftUser(sandbox.url, {
      userPrincipalName: 'bo@contoso.example',
      managedDevices: [{ operatingSystem: 'iOS' }, { operatingSystem: 'Windows' }],
    });
    const listed = await sandboxControl<Array<{ operatingSystem: string; entraDevice: { id: string } }>>(
      sandbox.url,
      `/users/${user.id}/devices`,
    );
    const objectOf = (os: string) => listed.find((d) => d.operatingSystem === os)!.entraDevice.id;
    const patch = (id: string) => graph(`/devices/${id}`, { method: 'PATCH', body: JSON.stringify({ accountEnabled: false }) });
    const refused = await patch(objectOf('iOS'));
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: 'Authorization_RequestDenied' } });
    expect((await patch(objectOf('Windows'))).status).toBe(204);
    const windows = (await (await graph(`/devices/${objectOf('Windows')}?$select=accountEnabled`)).json()) as Record<string, unknown>;
    expect(windows).toEqual({ accountEnabled: false });
  });

  it('a retire is pending until the device checks in, then the device leaves management; a wipe body is checked', async () => {
    const user = await seedMicrosoftUser(sandbox.url, { userPrincipalName: 'cy@contoso.example', managedDevices: [{}] });
    const list = async () =>
      (
        (await (await graph(`/users/${user.id}/managedDevices?$select=id,managementState`)).json()) as {
          value: Array<{ id: string; managementState: string }>;
        }
      ).value;
    const [device] = await list();
    expect(device).toEqual({ id: device!.id, managementState: 'managed' });
    const badWipe = await graph(`/deviceManagement/managedDevices/${device!.id}/wipe`, {
      method: 'POST',
      body: JSON.stringify({ keepUserData: 'no' }),
    });
    expect(badWipe.status).toBe(400);
    expect((await graph(`/deviceManagement/managedDevices/${device!.id}/retire`, { method: 'POST' })).status).toBe(204);
    expect((await list()).map((d) => d.managementState)).toEqual(['retirePending']);
    await sandboxControl(sandbox.url, `/managed-devices/${device!.id}/sync`, {});
    expect(await list()).toEqual([]);
    expect((await graph(`/deviceManagement/managedDevices/${device!.id}/retire`, { method: 'POST' })).status).toBe(404);
  });

  it('only understands deviceId eq filters on /devices', async () => {
    expect((await graph(`/devices?$filter=${encodeURIComponent("displayName eq 'x'")}`)).status).toBe(400);
  });
});
