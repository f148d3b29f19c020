/** The `caep` provider kind: OpenID Shared Signals `session-revoked` events pushed to receivers. */
import type { ProviderModule } from '../module.ts';
import { createCaepProvider } from './adapter.ts';
import type { CaepConfig } from './config.ts';
import { caepKind } from './kind.ts';

export const caepModule: ProviderModule<CaepConfig> = {
  ...caepKind,
  create: (config, ctx) => createCaepProvider(config, ctx),
};
