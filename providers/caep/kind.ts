/**
 * The CAEP (`caep`) provider kind without its adapter: what the daemon's thread needs (config
 * schema, emulator) when provider requests run on the attempt worker thread, so the
 * adapter and its SDK are loaded only where they run.
 */
import type { ProviderKind } from '../module.ts';
import { caepConfigSchema, type CaepConfig } from './config.ts';
import { CAEP_SANDBOX_AUDIENCE, CAEP_SANDBOX_ISSUER, CAEP_SANDBOX_KID } from './sandbox-credentials.ts';
import type { CaepSandbox } from './sandbox.ts';

export const caepKind: ProviderKind<CaepConfig> = {
  kind: 'caep',
  configSchema: caepConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startCaepSandbox(options),
  sandboxConfig: (sandbox) =>
    caepConfigSchema.parse({
      issuer: CAEP_SANDBOX_ISSUER,
      receivers: [{ url: `${sandbox.url}/events`, audience: CAEP_SANDBOX_AUDIENCE }],
      signingKey: { pem: (sandbox as CaepSandbox).privateKeyPem, kid: CAEP_SANDBOX_KID, alg: 'ES256' },
    }),
};
