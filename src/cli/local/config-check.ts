/**
 * `config check --config FILE`: everything `serve` checks before it listens, without
 * listening, through the same `preflight` (src/config/policy.ts): the schema, each
 * provider's settings (sandboxed ones against their started emulator), and the playbooks
 * against what each provider supports. Its notes (refusing nothing) are printed after
 * the verdict. It calls no real provider: credentials are proven at `serve`.
 */
import type { ProviderModule } from '../../../providers/module.ts';
import type { RunningSandbox } from '../../../providers/sandbox/kit.ts';
import { loadConfig } from '../../config/load.ts';
import { preflight } from '../../config/policy.ts';
import type { Config } from '../../config/schema.ts';
import { closeProviders, createProviders, summarise } from '../../startup/provider-setup.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import type { CommandInput } from '../spec.ts';
import { configFile } from './config-file.ts';

export async function configCheck(input: CommandInput): Promise<number> {
  const file = configFile(input, 'config check');
  const { providerModules } = await import('../../../providers/index.ts');
  const notes = await checkConfig(loadConfig(file), file, providerModules);
  input.io.out.write(
    input.values.json
      ? `${JSON.stringify({ file, ok: true, notes })}\n`
      : `${file}: ok\n${notes.map((note) => `note: ${note}\n`).join('')}`,
  );
  return 0;
}

/** Throws a ConfigError listing what `serve` would refuse in this (schema-valid) config; returns the notes `serve` would log. */
export async function checkConfig(config: Config, file: string, modules: ReadonlyMap<string, ProviderModule>): Promise<string[]> {
  const sandboxes: RunningSandbox[] = [];
  try {
    const { specs, checkProviders, notes } = await preflight(config, file, modules, (_name, sandbox) => sandboxes.push(sandbox));
    const providers = createProviders(specs, modules, silentLogger());
    try {
      checkProviders(summarise(providers));
    } finally {
      await closeProviders(providers);
    }
    return notes;
  } finally {
    await Promise.allSettled(sandboxes.map((s) => s.close()));
  }
}
