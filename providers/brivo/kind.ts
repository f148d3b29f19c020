/**
 * The Brivo provider kind without its adapter: what the daemon's thread needs (config
 * schema, emulator) when provider requests run on the attempt worker thread, so the
 * adapter and its SDK are loaded only where they run.
 */
import type { ProviderKind } from '../module.ts';
import { brivoConfigSchema, type BrivoConfig } from './config.ts';
import {
  BRIVO_SANDBOX_API_KEY,
  BRIVO_SANDBOX_CLIENT_ID,
  BRIVO_SANDBOX_CLIENT_SECRET,
  BRIVO_SANDBOX_PASSWORD,
  BRIVO_SANDBOX_USERNAME,
} from './sandbox-credentials.ts';

export const brivoKind: ProviderKind<BrivoConfig> = {
  kind: 'brivo',
  configSchema: brivoConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startBrivoSandbox(options),
  sandboxConfig: (sandbox) => brivoConfigSchema.parse(sandboxSettings(sandbox.url)),
};

/** The sandbox serves the token endpoint and the API on one origin, with fixed credentials. */
function sandboxSettings(url: string) {
  return {
    apiUrl: url,
    authUrl: url,
    apiKey: BRIVO_SANDBOX_API_KEY,
    clientId: BRIVO_SANDBOX_CLIENT_ID,
    clientSecret: BRIVO_SANDBOX_CLIENT_SECRET,
    username: BRIVO_SANDBOX_USERNAME,
    password: BRIVO_SANDBOX_PASSWORD,
  };
}
