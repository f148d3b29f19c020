/**
 * The Google Workspace provider module: config schema, adapter factory, sandbox.
 */
import type { ProviderModule } from '../module.ts';
import { createGoogleProvider } from './adapter.ts';
import type { GoogleConfig } from './config.ts';
import { googleKind } from './kind.ts';

export type { GoogleConfig } from './config.ts';
export { createGoogleProvider } from './adapter.ts';

export const googleModule: ProviderModule<GoogleConfig> = {
  ...googleKind,
  create(config, ctx) {
    // A sandbox URL from the factory context wins over config, as for every provider.
    const effective = ctx.sandboxUrl ? { ...config, rootUrl: `${ctx.sandboxUrl.replace(/\/+$/, '')}/` } : config;
    return createGoogleProvider(effective, { name: ctx.name, logger: ctx.logger, throttle: ctx.throttle });
  },
};
