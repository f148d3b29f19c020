/**
 * The Stripe provider kind without its adapter: what the daemon's thread needs (config
 * schema, emulator) when provider requests run on the attempt worker thread, so the adapter
 * and the SDK are loaded only where they run.
 */
import type { ProviderKind } from '../module.ts';
import { stripeConfigSchema, type StripeConfig } from './config.ts';
import { STRIPE_SANDBOX_KEY } from './sandbox-credentials.ts';

export const stripeKind: ProviderKind<StripeConfig> = {
  kind: 'stripe',
  configSchema: stripeConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startStripeSandbox(options),
  sandboxConfig: (sandbox) => stripeConfigSchema.parse({ apiKey: STRIPE_SANDBOX_KEY, apiBase: sandbox.url }),
};
