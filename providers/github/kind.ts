/**
 * The GitHub provider kind without its adapter: what the daemon's thread needs (config
 * schema, emulator) when provider requests run on the attempt worker thread, so the
 * adapter and Octokit are loaded only where they run.
 */
import type { ProviderKind } from '../module.ts';
import { githubConfigSchema, type GitHubConfig } from './config.ts';
import { GITHUB_SANDBOX_ORG, GITHUB_SANDBOX_TOKEN } from './sandbox-credentials.ts';

export const githubKind: ProviderKind<GitHubConfig> = {
  kind: 'github',
  configSchema: githubConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startGitHubSandbox(options),
  sandboxConfig: (sandbox) => githubConfigSchema.parse({ baseUrl: sandbox.url, org: GITHUB_SANDBOX_ORG, token: GITHUB_SANDBOX_TOKEN }),
};
