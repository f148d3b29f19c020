/**
 * The provider-specific part of a `providers.<name>` block is checked by the provider
 * kind's own schema; problems are reported in the same file/path form as the rest.
 */
import type { ProviderKind } from '../../providers/module.ts';
import type { RunningSandbox } from '../../providers/sandbox/kit.ts';
import type { ProviderSpec } from '../startup/provider-setup.ts';
import { keysAt, unknownKeyMessage } from './known-keys.ts';
import { ConfigError, locateInProvider } from './load.ts';
import type { Config, ProviderConfig } from './schema.ts';

export function moduleFor<K extends ProviderKind>(name: string, entry: ProviderConfig, modules: ReadonlyMap<string, K>, file: string): K {
  const module = modules.get(entry.kind);
  if (!module)
    throw new ConfigError(file, [`providers.${name}.kind: expected one of ${[...modules.keys()].join(', ')}, got "${entry.kind}"`]);
  return module;
}

/**
 * Parses the settings; with a running sandbox, its generated settings come first and the
 * file's override them. Every key must be one the kind knows: a misspelt `rootURL` would
 * otherwise be dropped and the adapter would call the provider's real host.
 */
export function parseProviderSettings(
  name: string,
  entry: ProviderConfig,
  module: ProviderKind,
  file: string,
  sandbox?: RunningSandbox,
): unknown {
  const { kind: _kind, sandbox: _sandbox, limits: _limits, ...settings } = entry;
  const where = (path: Array<string | number>) => locateInProvider(entry, name, path);
  const known = keysAt(module.configSchema, []);
  const problems = Object.keys(settings)
    .filter((key) => known.length > 0 && !known.includes(key))
    .map((key) => `${where([key])}: ${unknownKeyMessage(key, [...GENERAL_KEYS, ...known])}`);
  if (problems.length > 0) throw new ConfigError(file, problems);
  const input = sandbox ? { ...(module.sandboxConfig(sandbox) as object), ...settings } : settings;
  const parsed = module.configSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      file,
      parsed.error.issues.flatMap((i) => {
        const path = i.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
        if (i.code === 'unrecognized_keys')
          return i.keys.map((key) => `${where([...path, key])}: ${unknownKeyMessage(key, keysAt(module.configSchema, path))}`);
        return [`${where(path)}: ${i.message}`];
      }),
    );
  }
  return parsed.data;
}

/** Keys of every provider block, checked by the config schema itself. */
const GENERAL_KEYS = ['kind', 'sandbox', 'limits'];

/** Each provider block as the engine receives it; a sandboxed one gets its emulator from `startSandbox` first. */
export async function providerSpecs<K extends ProviderKind>(
  config: Config,
  kinds: ReadonlyMap<string, K>,
  file: string,
  startSandbox: (name: string, entry: ProviderConfig, module: K) => Promise<RunningSandbox>,
): Promise<ProviderSpec[]> {
  const specs: ProviderSpec[] = [];
  for (const [name, entry] of Object.entries(config.providers)) {
    const module = moduleFor(name, entry, kinds, file);
    const running = entry.sandbox ? await startSandbox(name, entry, module) : undefined;
    const settings = parseProviderSettings(name, entry, module, file, running);
    specs.push({ name, kind: entry.kind, settings, limits: entry.limits, sandboxUrl: running?.url });
  }
  return specs;
}
