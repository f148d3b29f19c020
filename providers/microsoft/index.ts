/**
 * The Microsoft Entra / 365 provider module: config schema, adapter factory, sandbox.
 * Nothing runs at import time.
 */
import type { ProviderModule } from '../module.ts';
import { createMicrosoftProvider } from './adapter.ts';
import type { MicrosoftConfig } from './config.ts';
import { microsoftKind } from './kind.ts';

export type { MicrosoftConfig } from './config.ts';
export { microsoftConfigSchema } from './config.ts';

export const microsoftModule: ProviderModule<MicrosoftConfig> = {
  ...microsoftKind,
  create: createMicrosoftProvider,
};
