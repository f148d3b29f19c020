/**
 * The provider-specific part of a `providers.<name>` block is checked by the provider
 * kind's own schema; problems are reported in the same file/path form as the rest.
 */
import type { ProviderKind } from '../../providers/module.ts';
import type { RunningSandbox } from '../../providers/sandbox/kit.ts';
import { ConfigError } from './load.ts';
import type { Config, ProviderConfig } from './schema.ts';

export function moduleFor<K extends ProviderKind<any>>(name: string, entry: ProviderConfig, modules: ReadonlyMap<string, K>, file: string): K {
  const module = modules.get(entry.kind);
  if (!module) throw new ConfigError(file, [`providers.${name}.kind: expected one of ${[...modules.keys()].join(', ')}, got "${entry.kind}"`]);
  return module;
}

/** Parses the settings; with a running sandbox, its generated settings come first and the file's override them. */
export function parseProviderSettings(
  name: string,
  entry: ProviderConfig,
  module: ProviderKind<any>,
  file: string,
  sandbox?: RunningSandbox,
): unknown {
  const { kind: _kind, sandbox: _sandbox, limits: _limits, ...settings } = entry;
  const input = sandbox ? { ...(module.sandboxConfig(sandbox) as object), ...settings } : settings;
  const parsed = module.configSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      file,
      parsed.error.issues.map((i) => `providers.${name}${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`),
    );
  }
  return parsed.data;
}

/** `config check`: every provider block that will not run on a sandbox must be complete. */
export function checkProviderSettings(config: Config, modules: ReadonlyMap<string, ProviderKind<any>>, file: string): void {
  for (const [name, entry] of Object.entries(config.providers)) {
    const module = moduleFor(name, entry, modules, file);
    if (!entry.sandbox) parseProviderSettings(name, entry, module, file);
  }
}
