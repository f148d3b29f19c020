/** `config check --config FILE`: the checks `serve` runs before it listens, without starting anything. */
import { loadConfig } from '../../config/load.ts';
import { checkProviderSettings } from '../../config/provider-settings.ts';
import { providerKinds } from '../../../providers/kinds.ts';
import type { CommandInput } from '../spec.ts';
import { configFile } from './config-file.ts';

export async function configCheck(input: CommandInput): Promise<number> {
  const file = configFile(input, 'config check');
  checkProviderSettings(loadConfig(file), providerKinds, file);
  input.io.out.write(input.values.json ? `${JSON.stringify({ file, ok: true })}\n` : `${file}: ok\n`);
  return 0;
}
