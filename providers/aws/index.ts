/**
 * The AWS IAM provider kind (`aws`): the IAM users of one AWS account. Config schema,
 * adapter factory and emulator. Nothing runs at import time.
 */
import type { ProviderModule } from '../module.ts';
import { createAwsProvider } from './adapter.ts';
import type { AwsConfig } from './config.ts';
import { awsKind } from './kind.ts';

export type { AwsConfig, AwsConfigInput } from './config.ts';
export { awsConfigSchema } from './config.ts';

export const awsModule: ProviderModule<AwsConfig> = {
  ...awsKind,
  create: (config, ctx) => createAwsProvider(config, ctx),
};
