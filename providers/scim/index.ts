/**
 * The outbound SCIM 2.0 provider kind (`scim`): config schema, adapter factory and the
 * SCIM target emulator. One configured instance per target application. Nothing runs at
 * import time.
 */
import type { ProviderModule } from '../module.ts';
import { createScimProvider } from './adapter.ts';
import { scimConfigSchema, type ScimConfig } from './config.ts';
import { SCIM_SANDBOX_BASE_PATH, SCIM_SANDBOX_TOKEN, startScimSandbox } from './sandbox.ts';

export type { ScimConfig, ScimConfigInput } from './config.ts';
export { scimConfigSchema } from './config.ts';

export const scimModule: ProviderModule<ScimConfig> = {
  kind: 'scim',
  configSchema: scimConfigSchema,
  create: (config, ctx) => createScimProvider(config, ctx),
  startSandbox: (options) => startScimSandbox(options),
  // The static bearer token: simplest for the demo. Tests cover the client-credentials path separately.
  sandboxConfig: (sandbox) =>
    scimConfigSchema.parse({ baseUrl: `${sandbox.url}${SCIM_SANDBOX_BASE_PATH}`, auth: { bearerToken: SCIM_SANDBOX_TOKEN } }),
};
