/**
 * `config check --config FILE`: everything `serve` checks before it listens, without
 * listening: the schema, each provider's settings (sandboxed ones against their started
 * emulator, as `serve` does), and the playbooks against what each provider supports
 * (src/config/policy.ts). It calls no real provider: credentials are proven at `serve`.
 */
import type { ProviderModule } from '../../../providers/module.ts';
import type { RunningSandbox } from '../../../providers/sandbox/kit.ts';
import { loadConfig } from '../../config/load.ts';
import { checkPlaybooks } from '../../config/policy.ts';
import { providerSpecs } from '../../config/provider-settings.ts';
import type { Config } from '../../config/schema.ts';
import { closeProviders, createProviders, summarise } from '../../startup/provider-setup.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import type { CommandInput } from '../spec.ts';
import { configFile } from './config-file.ts';

export async function configCheck(input: CommandInput): Promise<number> {
  const file = configFile(input, 'config check');
  const { providerModules } = await import('../../../providers/index.ts');
  await checkConfig(loadConfig(file), file, providerModules);
  input.io.out.write(input.values.json ? `${JSON.stringify({ file, ok: true })}\n` : `${file}: ok\n`);
  return 0;
}

/** Throws a ConfigError listing what `serve` would refuse in this (schema-valid) config. */
export async function checkConfig(config: Config, file: string, modules: ReadonlyMap<string, ProviderModule<any>>): Promise<void> {
  const sandboxes: RunningSandbox[] = [];
  try {
    const specs = await providerSpecs(config, modules, file, async (_name, entry, module) => {
      const started = await module.startSandbox({ autoProvision: entry.sandbox!.autoProvision, faults: entry.sandbox!.faults });
      sandboxes.push(started);
      return started;
    });
    const providers = createProviders(specs, modules, silentLogger());
    try {
      checkPlaybooks(config, summarise(providers), file);
    } finally {
      await closeProviders(providers);
    }
  } finally {
    await Promise.allSettled(sandboxes.map((s) => s.close()));
  }
}
