/**
 * The generic HTTP provider kind (`rest`): an in-house system's API described per action in
 * config (docs/providers/rest.md). Config schema, adapter factory and emulator. Nothing runs
 * at import time.
 */
import type { ProviderModule } from '../module.ts';
import { createRestProvider } from './adapter.ts';
import type { RestConfig } from './config.ts';
import { restKind } from './kind.ts';

export type { RestConfig, RestConfigInput } from './config.ts';
export { restConfigSchema } from './config.ts';

export const restModule: ProviderModule<RestConfig> = {
  ...restKind,
  create: (config, ctx) => createRestProvider(config, ctx),
};
