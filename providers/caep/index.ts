/** The `caep` provider kind: OpenID Shared Signals `session-revoked` events pushed to receivers. */
import type { ProviderModule } from '../module.ts';
import { createCaepProvider } from './adapter.ts';
import { caepConfigSchema, type CaepConfig } from './config.ts';
import { CAEP_SANDBOX_AUDIENCE, CAEP_SANDBOX_ISSUER, CAEP_SANDBOX_KID, startCaepSandbox, type CaepSandbox } from './sandbox.ts';

export const caepModule: ProviderModule<CaepConfig> = {
  kind: 'caep',
  configSchema: caepConfigSchema,
  create: (config, ctx) => createCaepProvider(config, ctx),
  startSandbox: (options) => startCaepSandbox(options),
  sandboxConfig: (sandbox) =>
    caepConfigSchema.parse({
      issuer: CAEP_SANDBOX_ISSUER,
      receivers: [{ url: `${sandbox.url}/events`, audience: CAEP_SANDBOX_AUDIENCE }],
      signingKey: { pem: (sandbox as CaepSandbox).privateKeyPem, kid: CAEP_SANDBOX_KID, alg: 'ES256' },
    }),
};
