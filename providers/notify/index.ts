/** The `notify` provider kind: messages to people (Slack incoming webhooks, generic JSON receivers). */
import type { ProviderModule } from '../module.ts';
import { createNotifyProvider } from './adapter.ts';
import { notifyConfigSchema, type NotifyConfig } from './config.ts';
import { NOTIFY_SANDBOX_TOKEN, startNotifySandbox } from './sandbox.ts';

export const notifyModule: ProviderModule<NotifyConfig> = {
  kind: 'notify',
  configSchema: notifyConfigSchema,
  create: (config, ctx) => createNotifyProvider(config, ctx.name, ctx.throttle),
  startSandbox: (options) => startNotifySandbox(options),
  sandboxConfig: (sandbox) =>
    notifyConfigSchema.parse({ url: `${sandbox.url}/hooks/security`, format: 'json', headers: { authorization: `Bearer ${NOTIFY_SANDBOX_TOKEN}` } }),
};
