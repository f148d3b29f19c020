/** The Okta provider kind: config schema, adapter factory and emulator. */
import type { ProviderModule } from '../module.ts';
import { createOktaProvider } from './adapter.ts';
import { oktaConfigSchema, type OktaConfig } from './config.ts';
import { OKTA_SANDBOX_TOKEN, startOktaSandbox } from './sandbox.ts';

export type { OktaConfig } from './config.ts';

export const oktaModule: ProviderModule<OktaConfig> = {
  kind: 'okta',
  configSchema: oktaConfigSchema,
  create: (config, ctx) => createOktaProvider(config, ctx),
  startSandbox: (options) => startOktaSandbox(options),
  sandboxConfig: (sandbox) => oktaConfigSchema.parse({ orgUrl: sandbox.url, token: OKTA_SANDBOX_TOKEN }),
};
