/**
 * The `notify` provider kind without its adapter: what the daemon's thread needs (config
 * schema, emulator) when provider requests run on the attempt worker thread, so the
 * adapter and its SDK are loaded only where they run.
 */
import type { ProviderKind } from '../module.ts';
import { notifyConfigSchema, type NotifyConfig } from './config.ts';
import { NOTIFY_SANDBOX_TOKEN } from './sandbox-credentials.ts';

export const notifyKind: ProviderKind<NotifyConfig> = {
  kind: 'notify',
  configSchema: notifyConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startNotifySandbox(options),
  sandboxConfig: (sandbox) =>
    notifyConfigSchema.parse({
      url: `${sandbox.url}/hooks/security`,
      format: 'json',
      headers: { authorization: `Bearer ${NOTIFY_SANDBOX_TOKEN}` },
    }),
};
