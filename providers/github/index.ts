/**
 * The GitHub provider kind (`github`): one organization on github.com (Enterprise Cloud for
 * SAML SSO) or a GitHub Enterprise Server. Config schema, adapter factory and emulator.
 * Nothing runs at import time.
 */
import type { ProviderModule } from '../module.ts';
import { createGitHubProvider } from './adapter.ts';
import type { GitHubConfig } from './config.ts';
import { githubKind } from './kind.ts';

export type { GitHubConfig, GitHubConfigInput } from './config.ts';
export { githubConfigSchema } from './config.ts';

export const githubModule: ProviderModule<GitHubConfig> = {
  ...githubKind,
  create: (config, ctx) => createGitHubProvider(config, ctx),
};
