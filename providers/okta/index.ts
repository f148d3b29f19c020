/** The Okta provider kind: config schema, adapter factory and emulator. */
import type { ProviderModule } from '../module.ts';
import { createOktaProvider } from './adapter.ts';
import type { OktaConfig } from './config.ts';
import { oktaKind } from './kind.ts';

export type { OktaConfig } from './config.ts';

export const oktaModule: ProviderModule<OktaConfig> = {
  ...oktaKind,
  create: (config, ctx) => createOktaProvider(config, ctx),
};
