/**
 * The Okta provider kind without its adapter: what the daemon's thread needs (config
 * schema, emulator) when provider requests run on the attempt worker thread, so the
 * adapter and its SDK are loaded only where they run.
 */
import type { ProviderKind } from '../module.ts';
import { oktaConfigSchema, type OktaConfig } from './config.ts';
import { OKTA_SANDBOX_TOKEN } from './sandbox-credentials.ts';

export const oktaKind: ProviderKind<OktaConfig> = {
  kind: 'okta',
  configSchema: oktaConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startOktaSandbox(options),
  sandboxConfig: (sandbox) => oktaConfigSchema.parse({ orgUrl: sandbox.url, token: OKTA_SANDBOX_TOKEN }),
};
