/**
 * The AWS IAM provider kind without its adapter: what the daemon's thread needs (config
 * schema, emulator) when provider requests run on the attempt worker thread, so the adapter
 * and the AWS SDK are loaded only where they run.
 */
import type { ProviderKind } from '../module.ts';
import { awsConfigSchema, type AwsConfig } from './config.ts';
import { AWS_SANDBOX_ACCESS_KEY_ID, AWS_SANDBOX_SECRET_ACCESS_KEY } from './sandbox-credentials.ts';

export const awsKind: ProviderKind<AwsConfig> = {
  kind: 'aws',
  configSchema: awsConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startAwsSandbox(options),
  // The emulator creates a user when one is asked for by name (autoProvision), so the
  // sandbox finds users by a name made from the subject; the tag lookup is tested on seeded users.
  sandboxConfig: (sandbox) =>
    awsConfigSchema.parse({
      endpoint: sandbox.url,
      credentials: { accessKeyId: AWS_SANDBOX_ACCESS_KEY_ID, secretAccessKey: AWS_SANDBOX_SECRET_ACCESS_KEY },
      lookup: { by: 'userName', template: '{local}' },
    }),
};
