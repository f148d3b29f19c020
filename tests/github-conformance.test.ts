/**
 * The GitHub adapter passes the shared conformance suite against its emulator, finding the
 * login through the organization's SAML identities (the default) and as the subject's login.
 */
import { githubConfigSchema } from '../providers/github/config.ts';
import { githubModule } from '../providers/github/index.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { runConformance } from './conformance/suite.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';

for (const lookup of [
  { by: 'samlIdentity', from: 'userName' },
  { by: 'login', from: 'userNameLocalPart' },
] as const) {
  runConformance({
    kind: 'github',
    actions: ['revoke_sessions', 'disable_account'],
    async start() {
      const sandbox = await githubModule.startSandbox({ autoProvision: true });
      const config = githubConfigSchema.parse({ ...githubModule.sandboxConfig(sandbox), lookup });
      const provider = githubModule.create(config, { name: `github-${lookup.by}`, logger: silentLogger() });
      const badCredentials = githubModule.create({ ...config, token: 'not-the-token' }, { name: 'github-bad', logger: silentLogger() });
      return { sandbox, provider, badCredentials };
    },
    rateLimitDelayMs: 2000,
    // retry-after is in whole seconds.
    rateLimitToleranceMs: 1000,
    // Removing a member is harmless to repeat, but "removed" and "was not a member" are different facts: read first.
    readFirstWrites: { disable_account: [{ method: 'DELETE', path: /^\/orgs\/[^/]+\/memberships\// }] },
    // Drift (issue 30): an owner adds the login back, or the leaver authorizes a token for SSO again.
    undo: {
      revoke_sessions: (account, sandbox) => sandboxControl(sandbox.url, `/users/${account.id}/credentials`, {}),
      disable_account: (account, sandbox) => sandboxControl(sandbox.url, `/users/${account.id}/membership`, {}),
    },
  });
}
