/**
 * The Google Workspace provider kind without its adapter: what the daemon's thread needs (config
 * schema, emulator) when provider requests run on the attempt worker thread, so the
 * adapter and its SDK are loaded only where they run.
 */
import type { ProviderKind } from '../module.ts';
import { googleConfigSchema, type GoogleConfig } from './config.ts';
import { SANDBOX_ACCESS_TOKEN, SANDBOX_ADMIN } from './sandbox-credentials.ts';

export const googleKind: ProviderKind<GoogleConfig> = {
  kind: 'google',
  configSchema: googleConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startGoogleSandbox(options),
  sandboxConfig(sandbox) {
    // The static token makes create() skip the JWT flow, which would call Google's token URL.
    return googleConfigSchema.parse({
      adminSubject: SANDBOX_ADMIN,
      accessToken: SANDBOX_ACCESS_TOKEN,
      rootUrl: `${sandbox.url}/`,
    });
  },
};
