/**
 * The outbound SCIM provider kind without its adapter: what the daemon's thread needs (config
 * schema, emulator) when provider requests run on the attempt worker thread, so the
 * adapter and its SDK are loaded only where they run.
 */
import type { ProviderKind } from '../module.ts';
import { scimConfigSchema, type ScimConfig } from './config.ts';
import { SCIM_SANDBOX_BASE_PATH, SCIM_SANDBOX_TOKEN } from './sandbox-credentials.ts';

export const scimKind: ProviderKind<ScimConfig> = {
  kind: 'scim',
  configSchema: scimConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startScimSandbox(options),
  // The static bearer token: simplest for the demo. Tests cover the client-credentials path separately.
  sandboxConfig: (sandbox) =>
    scimConfigSchema.parse({ baseUrl: `${sandbox.url}${SCIM_SANDBOX_BASE_PATH}`, auth: { bearerToken: SCIM_SANDBOX_TOKEN } }),
};
