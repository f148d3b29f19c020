/**
 * The shared adapter conformance suite, run against the Google sandbox through the
 * real @googleapis/admin client.
 */
import { googleModule } from '../providers/google/index.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { runConformance } from './conformance/suite.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';

runConformance({
  kind: 'google',
  actions: [
    'revoke_sessions',
    'disable_account',
    'remove_groups',
    'transfer_files',
    'delete_account',
    'clear_recovery',
    'remove_mfa',
    'remove_admin_roles',
    'reset_password',
    'stop_mail_forwarding',
    'revoke_public_links',
    'wipe_devices',
  ],
  async start() {
    const sandbox = await googleModule.startSandbox({ autoProvision: true });
    const config = googleModule.sandboxConfig(sandbox);
    const provider = googleModule.create(config, { name: 'google', logger: silentLogger() });
    const badCredentials = googleModule.create(
      { ...config, accessToken: 'not-the-sandbox-token' },
      { name: 'google-bad', logger: silentLogger() },
    );
    return { sandbox, provider, badCredentials };
  },
  async prepare(action, subject, account, sandbox) {
    if (action !== 'transfer_files') return;
    // A manager seeded through the sandbox's control API: the new owner of the files.
    const manager = `manager-of-${account.id}@example.com`;
    const res = await fetch(`${sandbox.url}/__sandbox/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ primaryEmail: manager }),
    });
    if (res.status !== 201) throw new Error(`seeding the manager failed: HTTP ${res.status}`);
    return { ...subject, manager: { email: manager } };
  },
  // Drift (issue 30): the sandbox lifts the suspension, or puts a group back.
  undo: {
    disable_account: (account, sandbox) => sandboxControl(sandbox.url, `/users/${account.id}/unsuspend`, {}),
    remove_groups: (account, sandbox) => sandboxControl(sandbox.url, `/users/${account.id}/groups`, { email: 'all-staff@example.com' }),
    stop_mail_forwarding: (account, sandbox) =>
      sandboxControl(sandbox.url, `/users/${account.id}/forwarding`, { email: 'drift@elsewhere.example' }),
    revoke_public_links: (account, sandbox) => sandboxControl(sandbox.url, `/users/${account.id}/files`, { reach: 'anyone' }),
  },
  // The provisioned phone syncs: its pending account wipe is carried out.
  acknowledge: {
    wipe_devices: async (account, sandbox) => {
      const devices = await sandboxControl<Array<{ resourceId: string }>>(sandbox.url, `/users/${account.id}/devices`);
      for (const d of devices) await sandboxControl(sandbox.url, `/devices/${encodeURIComponent(d.resourceId)}/sync`, {});
    },
  },
  readFirstWrites: {
    transfer_files: [{ method: 'POST', path: /^\/admin\/datatransfer\/v1\/transfers$/ }],
    delete_account: [{ method: 'DELETE', path: /^\/admin\/directory\/v1\/users\/[^/]+$/ }],
    // A provisioned user has one phone: its wipe command is sent once, a repeat finds it wiping.
    wipe_devices: [{ method: 'POST', path: /^\/admin\/directory\/v1\/customer\/[^/]+\/devices\/mobile\/[^/]+\/action$/ }],
  },
  // The sandbox's 403 carries Retry-After: 3 s; the adapter's default without it is 1 s,
  // so a tolerance under 2 s proves the header is read.
  rateLimitDelayMs: 3000,
  rateLimitToleranceMs: 500,
});
