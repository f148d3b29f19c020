/** The `notify` provider kind: messages to people (Slack incoming webhooks, generic JSON receivers). */
import type { ProviderModule } from '../module.ts';
import { createNotifyProvider } from './adapter.ts';
import type { NotifyConfig } from './config.ts';
import { notifyKind } from './kind.ts';

export const notifyModule: ProviderModule<NotifyConfig> = {
  ...notifyKind,
  create: (config, ctx) => createNotifyProvider(config, ctx.name, ctx.throttle),
};
