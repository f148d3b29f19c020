/**
 * The Slack provider kind without its adapter: what the daemon's thread needs (config
 * schema, emulator) when provider requests run on the attempt worker thread, so the
 * adapter and its SDK are loaded only where they run.
 */
import type { ProviderKind } from '../module.ts';
import { slackConfigSchema, type SlackConfig } from './config.ts';
import { SLACK_SANDBOX_SCIM_TOKEN, SLACK_SANDBOX_TOKEN } from './sandbox-credentials.ts';

export const slackKind: ProviderKind<SlackConfig> = {
  kind: 'slack',
  configSchema: slackConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startSlackSandbox(options),
  // The Web API under /api and SCIM 2.0 under /scim/v2 of one origin, as slack.com and api.slack.com serve them.
  sandboxConfig: (sandbox) =>
    slackConfigSchema.parse({
      token: SLACK_SANDBOX_TOKEN,
      apiUrl: `${sandbox.url}/api`,
      scim: { version: 'v2', baseUrl: `${sandbox.url}/scim/v2`, token: SLACK_SANDBOX_SCIM_TOKEN },
    }),
};
