/**
 * The Brivo Access provider kind (`brivo`): physical access badges. Config schema,
 * adapter factory and emulator. Nothing runs at import time.
 */
import type { ProviderModule } from '../module.ts';
import { createBrivoProvider } from './adapter.ts';
import type { BrivoConfig } from './config.ts';
import { brivoKind } from './kind.ts';

export type { BrivoConfig, BrivoConfigInput } from './config.ts';
export { brivoConfigSchema } from './config.ts';

export const brivoModule: ProviderModule<BrivoConfig> = {
  ...brivoKind,
  create: (config, ctx) => createBrivoProvider(config, ctx),
};
