/**
 * The Microsoft Entra / 365 provider module: config schema, adapter factory, sandbox.
 * Nothing runs at import time.
 */
import type { ProviderModule } from '../module.ts';
import { createMicrosoftProvider } from './adapter.ts';
import { microsoftConfigSchema, type MicrosoftConfig } from './config.ts';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TENANT_ID, startMicrosoftSandbox } from './sandbox.ts';

export type { MicrosoftConfig } from './config.ts';
export { microsoftConfigSchema } from './config.ts';

export const microsoftModule: ProviderModule<MicrosoftConfig> = {
  kind: 'microsoft',
  configSchema: microsoftConfigSchema,
  create: createMicrosoftProvider,
  startSandbox: (options) => startMicrosoftSandbox(options),
  sandboxConfig: (sandbox) => ({
    tenantId: SANDBOX_TENANT_ID,
    clientId: SANDBOX_CLIENT_ID,
    clientSecret: SANDBOX_CLIENT_SECRET,
    baseUrl: sandbox.url,
    // The sandbox serves the identity platform's token endpoint too, so auth is real.
    tokenUrl: `${sandbox.url}/${SANDBOX_TENANT_ID}/oauth2/v2.0/token`,
  }),
};
