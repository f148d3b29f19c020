/**
 * The `rest` provider kind without its adapter: what the daemon's thread needs (config
 * schema, emulator) when provider requests run on the attempt worker thread.
 */
import type { ProviderKind } from '../module.ts';
import { restConfigSchema, type RestConfig } from './config.ts';
import { inhouseSandboxSettings } from './sandbox-config.ts';

export const restKind: ProviderKind<RestConfig> = {
  kind: 'rest',
  configSchema: restConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startInhouseSandbox(options),
  sandboxConfig: (sandbox) => restConfigSchema.parse(inhouseSandboxSettings(`${sandbox.url}/api/v1`)),
};
