/**
 * The Brivo Access provider kind (`brivo`): physical access badges. Config schema,
 * adapter factory and emulator. Nothing runs at import time.
 */
import type { ProviderModule } from '../module.ts';
import { createBrivoProvider } from './adapter.ts';
import { brivoConfigSchema, type BrivoConfig } from './config.ts';
import {
  BRIVO_SANDBOX_API_KEY,
  BRIVO_SANDBOX_CLIENT_ID,
  BRIVO_SANDBOX_CLIENT_SECRET,
  BRIVO_SANDBOX_PASSWORD,
  BRIVO_SANDBOX_USERNAME,
  startBrivoSandbox,
} from './sandbox.ts';

export type { BrivoConfig, BrivoConfigInput } from './config.ts';
export { brivoConfigSchema } from './config.ts';

export const brivoModule: ProviderModule<BrivoConfig> = {
  kind: 'brivo',
  configSchema: brivoConfigSchema,
  create: (config, ctx) => createBrivoProvider(config, ctx),
  startSandbox: (options) => startBrivoSandbox(options),
  // The sandbox serves the token endpoint and the API on one origin.
  sandboxConfig: (sandbox) =>
    brivoConfigSchema.parse({
      apiUrl: sandbox.url,
      authUrl: sandbox.url,
      apiKey: BRIVO_SANDBOX_API_KEY,
      clientId: BRIVO_SANDBOX_CLIENT_ID,
      clientSecret: BRIVO_SANDBOX_CLIENT_SECRET,
      username: BRIVO_SANDBOX_USERNAME,
      password: BRIVO_SANDBOX_PASSWORD,
    }),
};
