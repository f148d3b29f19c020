/**
 * The outbound SCIM adapter passes the shared conformance suite twice: as a target that
 * keeps deactivated users (PATCH in the path form, verify `inactive`, DELETE allowed,
 * static bearer token) and as one that removes them (value-object PATCH, verify `gone`,
 * email lookup, OAuth client credentials), the two ends of what real targets do. Drift is
 * injected at the first end only: at the second the identity is gone, and one provisioned
 * again has another id (which `verify` by id cannot see; docs/operations.md, "Drift").
 */
import { scimModule } from '../providers/scim/index.ts';
import { scimConfigSchema } from '../providers/scim/config.ts';
import { SCIM_SANDBOX_BASE_PATH, SCIM_SANDBOX_CLIENT_ID, SCIM_SANDBOX_CLIENT_SECRET, startScimSandbox } from '../providers/scim/sandbox.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { runConformance } from './conformance/suite.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';

runConformance({
  kind: 'scim',
  actions: ['disable_account', 'delete_account'],
  async start() {
    const sandbox = await scimModule.startSandbox({ autoProvision: true });
    const config = scimConfigSchema.parse({ ...scimModule.sandboxConfig(sandbox), allowDelete: true });
    const provider = scimModule.create(config, { name: 'scim-keeps-users', logger: silentLogger() });
    const badCredentials = scimModule.create(
      { ...config, auth: { bearerToken: 'not-the-sandbox-token' } },
      { name: 'scim-bad', logger: silentLogger() },
    );
    return { sandbox, provider, badCredentials };
  },
  readFirstWrites: { delete_account: [{ method: 'DELETE', path: /\/Users\/[^/]+$/ }] },
  // Drift (issue 30): the IdP or an administrator turns the user back on.
  undo: { disable_account: (account, sandbox) => sandboxControl(sandbox.url, `/users/${account.id}/reactivate`, {}) },
  rateLimitDelayMs: 2000,
  // Retry-After is in whole seconds.
  rateLimitToleranceMs: 1000,
});

runConformance({
  kind: 'scim',
  actions: ['disable_account'],
  async start() {
    const sandbox = await startScimSandbox({ autoProvision: true, deprovision: 'gone' });
    const auth = { tokenUrl: `${sandbox.url}/oauth/token`, clientId: SCIM_SANDBOX_CLIENT_ID, clientSecret: SCIM_SANDBOX_CLIENT_SECRET };
    const config = scimConfigSchema.parse({
      baseUrl: `${sandbox.url}${SCIM_SANDBOX_BASE_PATH}`,
      auth,
      lookup: 'email',
      emailFilter: 'emails[value]',
      patchForm: 'valueObject',
      verify: 'gone',
    });
    const provider = scimModule.create(config, { name: 'scim-removes-users', logger: silentLogger() });
    const badCredentials = scimModule.create(
      { ...config, auth: { ...auth, clientSecret: 'wrong-secret' } },
      { name: 'scim-bad-oauth', logger: silentLogger() },
    );
    return { sandbox, provider, badCredentials };
  },
  rateLimitDelayMs: 2000,
  rateLimitToleranceMs: 1000,
});
