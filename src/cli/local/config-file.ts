/** The `--config FILE` that serve, config check and audit verify cannot do without. */
import { UsageError } from '../io.ts';
import type { CommandInput } from '../spec.ts';
import { noPositionals } from '../admin/common.ts';

export function configFile({ values, positionals }: Pick<CommandInput, 'values' | 'positionals'>, command: string): string {
  noPositionals(positionals);
  const file = values.config as string | undefined;
  if (!file) throw new UsageError(`${command} needs --config FILE (for example config/sandbox.yaml)`);
  return file;
}
