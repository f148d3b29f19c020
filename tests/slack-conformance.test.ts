/**
 * The Slack adapter passes the shared conformance suite against its emulator in each
 * disable mode: SCIM PATCH (the default), SCIM DELETE and admin.users.remove per workspace.
 * The last two are not idempotent at Slack (a second DELETE or remove is not a no-op), so
 * the suite proves they are read first.
 */
import { slackModule } from '../providers/slack/index.ts';
import { slackConfigSchema } from '../providers/slack/config.ts';
import type { ReadFirstWrite } from './conformance/suite.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { runConformance } from './conformance/suite.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';

const modes: Array<{ mode: 'scim_patch' | 'scim_delete' | 'admin_remove'; readFirst: ReadFirstWrite[] }> = [
  { mode: 'scim_patch', readFirst: [] },
  { mode: 'scim_delete', readFirst: [{ method: 'DELETE', path: /^\/scim\/v2\/Users\// }] },
  { mode: 'admin_remove', readFirst: [{ method: 'POST', path: /^\/api\/admin\.users\.remove$/ }] },
];

for (const { mode, readFirst } of modes) {
  runConformance({
    kind: 'slack',
    actions: ['revoke_sessions', 'disable_account'],
    async start() {
      const sandbox = await slackModule.startSandbox({ autoProvision: true });
      const config = slackConfigSchema.parse({ ...slackModule.sandboxConfig(sandbox), disableMode: mode });
      const provider = slackModule.create(config, { name: `slack-${mode}`, logger: silentLogger() });
      const badCredentials = slackModule.create({ ...config, token: 'xoxp-not-the-token' }, { name: 'slack-bad', logger: silentLogger() });
      return { sandbox, provider, badCredentials };
    },
    readFirstWrites: { disable_account: readFirst },
    // Drift (issue 30): the person signs in again, or an administrator reactivates them (back in their workspaces).
    undo: {
      revoke_sessions: (account, sandbox) => sandboxControl(sandbox.url, `/users/${account.id}/sessions`, {}),
      disable_account: (account, sandbox) => sandboxControl(sandbox.url, `/users/${account.id}/reactivate`, {}),
    },
    rateLimitDelayMs: 2000,
    // Retry-After is in whole seconds.
    rateLimitToleranceMs: 1000,
  });
}
