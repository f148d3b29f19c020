/** `demo [--config FILE] [--customer]`: one termination end to end against the sandbox providers. */
import type { CommandInput } from '../spec.ts';
import { noPositionals } from '../admin/common.ts';

export async function demo({ values, positionals }: CommandInput): Promise<number> {
  noPositionals(positionals);
  const { runDemo } = await import('../../demo.ts');
  return runDemo({ configFile: values.config as string | undefined, customer: values.customer === true });
}
