/**
 * The Microsoft Entra / 365 provider kind without its adapter: what the daemon's thread needs (config
 * schema, emulator) when provider requests run on the attempt worker thread, so the
 * adapter and its SDK are loaded only where they run.
 */
import type { ProviderKind } from '../module.ts';
import { microsoftConfigSchema, type MicrosoftConfig } from './config.ts';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TENANT_ID } from './sandbox-credentials.ts';

export const microsoftKind: ProviderKind<MicrosoftConfig> = {
  kind: 'microsoft',
  configSchema: microsoftConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startMicrosoftSandbox(options),
  sandboxConfig: (sandbox) => ({
    tenantId: SANDBOX_TENANT_ID,
    clientId: SANDBOX_CLIENT_ID,
    clientSecret: SANDBOX_CLIENT_SECRET,
    baseUrl: sandbox.url,
    // The sandbox serves the identity platform's token endpoint too, so auth is real.
    tokenUrl: `${sandbox.url}/${SANDBOX_TENANT_ID}/oauth2/v2.0/token`,
  }),
};
