/**
 * The AWS IAM adapter passes the shared conformance suite against its emulator, through the
 * real SDK (Query protocol, SigV4 checked by the emulator), finding users by a name made
 * from the subject (the emulator creates a user asked for by name). The tag lookup needs
 * seeded users: tests/aws-adapter.test.ts.
 */
import { awsConfigSchema } from '../providers/aws/config.ts';
import { awsModule } from '../providers/aws/index.ts';
import { DEFAULT_THROTTLE_DELAY_MS } from '../providers/aws/errors.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { runConformance } from './conformance/suite.ts';

runConformance({
  kind: 'aws',
  actions: ['revoke_credentials', 'remove_groups', 'delete_account'],
  async start() {
    const sandbox = await awsModule.startSandbox({ autoProvision: true });
    const config = awsConfigSchema.parse(awsModule.sandboxConfig(sandbox));
    const provider = awsModule.create(config, { name: 'aws', logger: silentLogger() });
    const badCredentials = awsModule.create(
      { ...config, credentials: { ...config.credentials, secretAccessKey: 'not-the-secret' } },
      { name: 'aws-bad', logger: silentLogger() },
    );
    return { sandbox, provider, badCredentials };
  },
  // IAM's Throttling answer names no delay: the adapter reports its own default, whatever the sandbox was asked for.
  rateLimitDelayMs: DEFAULT_THROTTLE_DELAY_MS,
  rateLimitToleranceMs: 0,
  undo: {
    revoke_credentials: async (account, sandbox) => {
      const res = await fetch(`${sandbox.url}/__sandbox/users/${encodeURIComponent(account.id)}/access-keys`, { method: 'POST' });
      if (res.status !== 201) throw new Error(`undo: HTTP ${res.status}`);
    },
    remove_groups: async (account, sandbox) => {
      const res = await fetch(`${sandbox.url}/__sandbox/users/${encodeURIComponent(account.id)}/groups`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ groupName: 'developers' }),
      });
      if (res.status !== 204) throw new Error(`undo: HTTP ${res.status}`);
    },
  },
});
