/**
 * Issue 32, "every door a leaver could still use", proven at the providers: the daemon on
 * config/sandbox.yaml's providers and `employee` playbook terminates one person who was
 * seeded across the sandboxes with a forwarding rule, an anyone-link file, two MFA methods,
 * a phone, an admin role and two AWS access keys (and more of the same at each provider).
 * Every assertion after the termination reads a sandbox's own state through its control
 * API, never the daemon's evidence. The retention is an hour, so the deletes do not run and
 * the accounts are still there to be read: what is gone was removed by the door steps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { microsoftUserState, seedMicrosoftUser, type SandboxUserState } from '../providers/microsoft/sandbox.ts';
import { loadConfig } from '../src/config/load.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { pollUntil } from './helpers/poll.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';

const CONFIG_FILE = resolve(dirname(fileURLToPath(import.meta.url)), '../config/sandbox.yaml');
const LOGIN = 'katherine.johnson@example.com';
const MANAGER = 'dorothy.vaughan@example.com';
const PERSONAL = 'katherine.personal@mail.example';
const IAM_USER = 'katherine.johnson';
const PASSWORD_SET = '2026-01-05T09:00:00.000Z';

interface GoogleUser {
  suspended: boolean;
  isAdmin: boolean;
  isDelegatedAdmin: boolean;
  isEnrolledIn2Sv: boolean;
  recoveryPhone?: string;
  roleIds: string[];
  gmail: { autoForwarding: { enabled: boolean }; forwardingAddresses: unknown[]; filters: Array<{ action: { forward?: string } }> };
  driveFiles: Array<{ id: string; visibility: string; permissions: string[] }>;
}
interface GoogleDevice {
  resourceId: string;
  status: string;
}
interface OktaUser {
  id: string;
  status: string;
  passwordChanged: string | null;
  factors: string[];
  roles: Array<{ type: string }>;
}
interface IamUser {
  accessKeys: Array<{ AccessKeyId: string; Status: string }>;
  loginProfile: boolean;
  mfaDevices: unknown[];
  groups: string[];
}
interface ManagedDevice {
  id: string;
  operatingSystem: string;
  managementState: string;
}

describe('every door a leaver could still use, read back at the sandboxes (issue 32)', () => {
  let dir: string;
  let daemon: Daemon;
  const url = (name: string) => daemon.sandboxes.get(name)!.url;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-leaver-doors-'));
    const config = loadConfig(CONFIG_FILE, {
      ADMIN_TOKEN: 'leaver-doors-admin-token-01',
      SCIM_TOKEN: 'leaver-doors-scim-token-001',
      WEBHOOK_SECRET: 'whsec_bGVhdmVyLWRvb3JzLXdlYmhvb2s=',
      // The deletes wait an hour: the accounts stay to be read, with only the doors gone.
      RETENTION: '1h',
    });
    config.store = { sqlite: { path: join(dir, 'store.db') } };
    config.server = { ...config.server, host: '127.0.0.1', port: 0 };
    daemon = await startDaemon(config, { configFile: CONFIG_FILE, logger: silentLogger() });
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves none of them open after the employee playbook, and the phones wiped once they sync', async () => {
    // ---- one person, seeded with each door at each provider ----
    const google = url('google');
    await sandboxControl(google, '/users', {
      primaryEmail: LOGIN,
      forwardTo: PERSONAL,
      forwardingFilters: 1,
      twoStep: true,
      recoveryPhone: '+15550100200',
      adminRoles: 1,
      files: 1,
      publicFiles: 1,
    });
    const pixel = await sandboxControl<GoogleDevice>(google, `/users/${LOGIN}/devices`, { model: 'Pixel 8' });
    const googleBefore = await sandboxControl<GoogleUser>(google, `/users/${LOGIN}`);
    const anyoneFiles = googleBefore.driveFiles.filter((f) => f.visibility === 'anyoneWithLink').map((f) => f.id);
    expect(anyoneFiles).toHaveLength(1);
    expect(googleBefore).toMatchObject({ isEnrolledIn2Sv: true, recoveryPhone: '+15550100200', isDelegatedAdmin: true });
    expect(googleBefore.gmail.autoForwarding.enabled).toBe(true);

    const microsoft = url('microsoft');
    const entra = await seedMicrosoftUser(microsoft, {
      userPrincipalName: LOGIN,
      authMethods: ['mobilePhone', 'microsoftAuthenticator'],
      inboxRules: [{ displayName: 'Everything home', forwardTo: [PERSONAL] }],
      directoryRoles: ['Helpdesk Administrator'],
      managedDevices: [{ operatingSystem: 'Android', deviceName: 'KJ-PHONE' }],
      driveItems: [{ name: 'flight-paths.xlsx', links: [{ scope: 'anonymous', type: 'view' }] }],
      permissionGrants: [{ scope: 'Mail.Read offline_access' }],
    });
    const entraBefore = (await microsoftUserState(microsoft, entra.id))!;
    expect(entraBefore).toMatchObject({
      authMethodTypes: expect.arrayContaining([expect.any(String), expect.any(String)]),
      inboxRules: ['Everything home'],
      directoryRoles: ['Helpdesk Administrator'],
      permissionGrants: ['Mail.Read offline_access'],
    });
    expect(entraBefore.authMethodTypes).toHaveLength(2);
    expect(entraBefore.publicLinks.map((l) => l.scope)).toEqual(['anonymous']);

    const okta = url('okta');
    const oktaSeeded = await sandboxControl<OktaUser>(okta, '/users', {
      login: LOGIN,
      factors: ['push', 'sms'],
      roles: [{ type: 'HELP_DESK_ADMIN' }],
      passwordChanged: PASSWORD_SET,
    });
    const oktaBefore = await sandboxControl<OktaUser>(okta, `/users/${oktaSeeded.id}`);
    expect(oktaBefore.factors).toEqual(['push', 'sms']);
    expect(oktaBefore.roles.map((r) => r.type)).toEqual(['HELP_DESK_ADMIN']);

    const aws = url('aws');
    await sandboxControl(aws, '/users', { userName: IAM_USER, accessKeys: 2, loginProfile: true, mfaDevices: 1 });
    const iamBefore = await sandboxControl<IamUser>(aws, `/users/${IAM_USER}`);
    expect(iamBefore.accessKeys.filter((k) => k.Status === 'Active')).toHaveLength(2);

    // ---- the termination, through the same service intake uses ----
    const { termination } = await daemon.terminations.submit({
      source: 'admin',
      subject: { externalId: 'E-1918', userName: LOGIN, emails: [LOGIN], manager: { email: MANAGER, userName: MANAGER } },
      reason: 'issue 32: every door',
      actor: 'test',
    });
    // Everything but the people's step and the deletes (an hour away) ends; nothing may fail.
    let seen = '';
    await pollUntil(
      async () => {
        const tasks = await daemon.store.listTasks(termination.id);
        seen = JSON.stringify(tasks.filter((t) => t.state !== 'succeeded').map((t) => [t.stepId, t.state, t.lastError]));
        const failed = tasks.filter((t) => t.state === 'failed');
        if (failed.length > 0) throw new Error(`failed: ${seen}`);
        return tasks.every((t) => t.state === 'succeeded' || t.action === 'manual' || t.action === 'delete_account');
      },
      () => `the door steps did not all succeed: ${seen}`,
      25_000,
    );

    // ---- Google: forwarding, 2SV, recovery phone, admin role and the anyone link gone; the account still there ----
    const googleAfter = await sandboxControl<GoogleUser>(google, `/users/${LOGIN}`);
    expect(googleAfter.suspended).toBe(true);
    expect(googleAfter.gmail.autoForwarding.enabled).toBe(false);
    expect(googleAfter.gmail.forwardingAddresses).toEqual([]);
    expect(googleAfter.gmail.filters.filter((f) => f.action.forward)).toEqual([]);
    expect(googleAfter.isEnrolledIn2Sv).toBe(false);
    expect(googleAfter.recoveryPhone).toBeUndefined();
    expect(googleAfter).toMatchObject({ isAdmin: false, isDelegatedAdmin: false, roleIds: [] });
    // The files went to the manager with the transfer, the anyone permission removed before it.
    expect(googleAfter.driveFiles).toEqual([]);
    const received = (await sandboxControl<GoogleUser>(google, `/users/${MANAGER}`)).driveFiles.filter((f) => anyoneFiles.includes(f.id));
    expect(received).toHaveLength(1);
    expect(received[0]!.permissions.filter((p) => p.startsWith('anyone:'))).toEqual([]);

    // ---- Microsoft: the forwarding rule, both MFA methods, the role, the grant and the anyone link gone ----
    const entraAfter = (await microsoftUserState(microsoft, entra.id))!;
    expect(entraAfter).toMatchObject({
      deleted: false,
      accountEnabled: false,
      authMethodTypes: [],
      inboxRules: [],
      directoryRoles: [],
      permissionGrants: [],
      publicLinks: [],
    } satisfies Partial<SandboxUserState>);

    // ---- Okta: both factors and the admin role gone, the password set anew ----
    const oktaAfter = await sandboxControl<OktaUser>(okta, `/users/${oktaSeeded.id}`);
    expect(oktaAfter).toMatchObject({ status: 'SUSPENDED', factors: [], roles: [] });
    expect(Date.parse(oktaAfter.passwordChanged ?? '')).toBeGreaterThan(Date.parse(PASSWORD_SET));

    // ---- AWS IAM: both access keys, the console password, the MFA device and the group gone ----
    expect(await sandboxControl<IamUser>(aws, `/users/${IAM_USER}`)).toMatchObject({
      accessKeys: [],
      loginProfile: false,
      mfaDevices: [],
      groups: [],
    });

    // ---- the phones: the wipe is pending at each provider until the device syncs, then carried out ----
    expect(await sandboxControl<GoogleDevice[]>(google, `/users/${LOGIN}/devices`)).toEqual([
      expect.objectContaining({ resourceId: pixel.resourceId, status: 'ACCOUNT_WIPING' }),
    ]);
    const enrolled = await sandboxControl<ManagedDevice[]>(microsoft, `/users/${entra.id}/devices`);
    expect(enrolled.map((d) => [d.operatingSystem, d.managementState])).toEqual([['Android', 'retirePending']]);

    await sandboxControl(google, `/devices/${pixel.resourceId}/sync`, {});
    for (const device of enrolled) await sandboxControl(microsoft, `/managed-devices/${device.id}/sync`, {});
    expect(await sandboxControl<GoogleDevice[]>(google, `/users/${LOGIN}/devices`)).toEqual([
      expect.objectContaining({ resourceId: pixel.resourceId, status: 'ACCOUNT_WIPED' }),
    ]);
    // A retired device leaves Intune management: the leaver has none left.
    expect(await sandboxControl<ManagedDevice[]>(microsoft, `/users/${entra.id}/devices`)).toEqual([]);
  }, 40_000);
});
