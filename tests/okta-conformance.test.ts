import { oktaModule } from '../providers/okta/index.ts';
import type { JsonObject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { runConformance } from './conformance/suite.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';

runConformance({
  kind: 'okta',
  actions: ['revoke_sessions', 'disable_account', 'remove_groups', 'delete_account', 'remove_mfa', 'remove_admin_roles', 'reset_password'],
  async start() {
    const sandbox = await oktaModule.startSandbox({ autoProvision: true });
    const config = oktaModule.sandboxConfig(sandbox);
    const provider = oktaModule.create(config, { name: 'okta', logger: silentLogger() });
    const badCredentials = oktaModule.create({ ...config, token: 'not-the-sandbox-token' }, { name: 'okta-bad', logger: silentLogger() });
    return { sandbox, provider, badCredentials };
  },
  params: (action): JsonObject => (action === 'disable_account' ? { mode: 'suspend' } : {}),
  // Okta refuses a repeated suspend (the user is no longer ACTIVE), and DELETE on a user
  // that is not DEPROVISIONED deactivates it: each is read first.
  readFirstWrites: {
    disable_account: [{ method: 'POST', path: /^\/api\/v1\/users\/[^/]+\/lifecycle\/suspend$/ }],
    delete_account: [
      { method: 'POST', path: /^\/api\/v1\/users\/[^/]+\/lifecycle\/deactivate$/, followedByAnother: true },
      { method: 'DELETE', path: /^\/api\/v1\/users\/[^/]+$/ },
    ],
    // reset_factors is a lifecycle operation; the factors list is read first.
    remove_mfa: [{ method: 'POST', path: /^\/api\/v1\/users\/[^/]+\/lifecycle\/reset_factors$/ }],
    remove_admin_roles: [{ method: 'DELETE', path: /^\/api\/v1\/users\/[^/]+\/roles\/[^/]+$/ }],
  },
  // Drift (issue 30): the sandbox turns the account back on, or puts a group back.
  undo: {
    disable_account: (account, sandbox) => sandboxControl(sandbox.url, `/users/${account.id}/reactivate`, {}),
    remove_groups: (account, sandbox) =>
      sandboxControl(sandbox.url, `/users/${account.id}/groups`, { name: 'Engineering', type: 'OKTA_GROUP' }),
  },
  rateLimitDelayMs: 2000,
  // X-Rate-Limit-Reset is in whole seconds and the sandbox rounds it up.
  rateLimitToleranceMs: 1000,
});
