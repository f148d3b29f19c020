/**
 * The outbound SCIM 2.0 provider kind (`scim`): config schema, adapter factory and the
 * SCIM target emulator. One configured instance per target application. Nothing runs at
 * import time.
 */
import type { ProviderModule } from '../module.ts';
import { createScimProvider } from './adapter.ts';
import type { ScimConfig } from './config.ts';
import { scimKind } from './kind.ts';

export type { ScimConfig, ScimConfigInput } from './config.ts';
export { scimConfigSchema } from './config.ts';

export const scimModule: ProviderModule<ScimConfig> = {
  ...scimKind,
  create: (config, ctx) => createScimProvider(config, ctx),
};
