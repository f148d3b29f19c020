/**
 * The Google Workspace provider module: config schema, adapter factory, sandbox.
 */
import type { ProviderModule } from '../module.ts';
import { createGoogleProvider } from './adapter.ts';
import { googleConfigSchema, type GoogleConfig } from './config.ts';
import { SANDBOX_ACCESS_TOKEN, SANDBOX_ADMIN, startGoogleSandbox } from './sandbox.ts';

export const googleModule: ProviderModule<GoogleConfig> = {
  kind: 'google',
  configSchema: googleConfigSchema,
  create(config, ctx) {
    // A sandbox URL from the factory context wins over config, as for every provider.
    const effective = ctx.sandboxUrl ? { ...config, rootUrl: `${ctx.sandboxUrl.replace(/\/+$/, '')}/` } : config;
    return createGoogleProvider(effective, { name: ctx.name, logger: ctx.logger, throttle: ctx.throttle });
  },
  startSandbox: (options) => startGoogleSandbox(options),
  sandboxConfig(sandbox) {
    // The static token makes create() skip the JWT flow, which would call Google's token URL.
    return googleConfigSchema.parse({
      adminSubject: SANDBOX_ADMIN,
      accessToken: SANDBOX_ACCESS_TOKEN,
      rootUrl: `${sandbox.url}/`,
    });
  },
};

export type { GoogleConfig } from './config.ts';
export { createGoogleProvider } from './adapter.ts';
export { startGoogleSandbox } from './sandbox.ts';
