/**
 * The Slack provider kind (`slack`): Web API through `@slack/web-api`, plus Slack's SCIM API.
 * Config schema, adapter factory and emulator. Nothing runs at import time.
 */
import type { ProviderModule } from '../module.ts';
import { createSlackProvider } from './adapter.ts';
import type { SlackConfig } from './config.ts';
import { slackKind } from './kind.ts';

export type { SlackConfig, SlackConfigInput } from './config.ts';
export { slackConfigSchema } from './config.ts';

export const slackModule: ProviderModule<SlackConfig> = {
  ...slackKind,
  create: (config, ctx) => createSlackProvider(config, ctx),
};
