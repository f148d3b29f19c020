/**
 * The shared adapter conformance suite, run by the Microsoft adapter against its sandbox
 * through the real Graph SDK and a real client-credentials token from the sandbox.
 */
import { microsoftModule } from '../providers/microsoft/index.ts';
import { seedMicrosoftUser } from '../providers/microsoft/sandbox.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { runConformance } from './conformance/suite.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';

runConformance({
  kind: 'microsoft',
  actions: [
    'revoke_sessions',
    'disable_account',
    'remove_groups',
    'transfer_files',
    'delete_account',
    'remove_mfa',
    'stop_mail_forwarding',
    'remove_admin_roles',
    'reset_password',
    'revoke_public_links',
    'wipe_devices',
  ],
  async start() {
    const sandbox = await microsoftModule.startSandbox({ autoProvision: true });
    const config = microsoftModule.sandboxConfig(sandbox);
    const logger = silentLogger();
    return {
      sandbox,
      provider: microsoftModule.create(config, { name: 'entra', logger }),
      badCredentials: microsoftModule.create({ ...config, clientSecret: 'not-the-secret' }, { name: 'entra-bad', logger }),
    };
  },
  // transfer_files needs someone to receive the OneDrive: a manager seeded in the directory.
  async prepare(action, subject, _account, sandbox) {
    if (action !== 'transfer_files') return;
    const manager = await seedMicrosoftUser(sandbox.url, {
      userPrincipalName: `manager-${subject.userName}`,
      mail: `manager-${subject.emails[0]}`,
    });
    return { ...subject, manager: { email: `manager-${subject.emails[0]}`, userName: manager.userPrincipalName } };
  },
  // Drift (issue 30): the sandbox enables the account again, or puts it back in an assigned group.
  undo: {
    disable_account: (account, sandbox) => sandboxControl(sandbox.url, `/users/${account.id}/enable`, {}),
    remove_groups: (account, sandbox) => sandboxControl(sandbox.url, `/users/${account.id}/groups`, { displayName: 'All Staff' }),
    // The user's file shared with anyone again, as a sync client replaying an old change would.
    revoke_public_links: (account, sandbox) => sandboxControl(sandbox.url, `/users/${account.id}/drive-links`, { scope: 'anonymous' }),
  },
  // The provisioned iPhone checks in: its pending retire is carried out and it leaves management.
  acknowledge: {
    wipe_devices: async (account, sandbox) => {
      const devices = await sandboxControl<Array<{ id: string }>>(sandbox.url, `/users/${account.id}/devices`);
      for (const d of devices) await sandboxControl(sandbox.url, `/managed-devices/${d.id}/sync`, {});
    },
  },
  readFirstWrites: {
    // The provisioned user has one managed iPhone: its retire is sent once, a repeat finds it retirePending.
    wipe_devices: [{ method: 'POST', path: /^\/v1\.0\/deviceManagement\/managedDevices\/[^/]+\/retire$/ }],
    transfer_files: [{ method: 'POST', path: /^\/v1\.0\/drives\/[^/]+\/root\/invite$/ }],
    delete_account: [{ method: 'DELETE', path: /^\/v1\.0\/users\/[^/]+$/ }],
    // The provisioned user's mobile phone goes first; the default method (the Authenticator app) follows it.
    remove_mfa: [{ method: 'DELETE', path: /^\/v1\.0\/users\/[^/]+\/authentication\/phoneMethods\/[^/]+$/, followedByAnother: true }],
    remove_admin_roles: [{ method: 'DELETE', path: /^\/v1\.0\/roleManagement\/directory\/roleAssignments\/[^/]+$/ }],
    stop_mail_forwarding: [{ method: 'DELETE', path: /^\/v1\.0\/users\/[^/]+\/mailFolders\/inbox\/messageRules\/[^/]+$/ }],
    // The provisioned OneDrive holds one anyone link of its own (on a folder; its file inherits it).
    revoke_public_links: [{ method: 'DELETE', path: /^\/v1\.0\/drives\/[^/]+\/items\/[^/]+\/permissions\/[^/]+$/ }],
  },
  rateLimitDelayMs: 2000,
});
