/**
 * The Stripe provider kind (`stripe`): a client's billing at offboarding, through the official
 * SDK. Config schema, adapter factory and emulator. Nothing runs at import time.
 */
import type { ProviderModule } from '../module.ts';
import { createStripeProvider } from './adapter.ts';
import type { StripeConfig } from './config.ts';
import { stripeKind } from './kind.ts';

export type { StripeConfig, StripeConfigInput } from './config.ts';
export { stripeConfigSchema } from './config.ts';

export const stripeModule: ProviderModule<StripeConfig> = {
  ...stripeKind,
  create: (config, ctx) => createStripeProvider(config, ctx),
};
