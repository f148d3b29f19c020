/** `deprovisiond reverify ID`: read back a completed termination's verified tasks now (drift check). */
import { table } from '../format.ts';
import type { CommandInput } from '../spec.ts';
import type { ReverifyQueued } from './answers.ts';
import { clientFor, onePositional, printJson } from './common.ts';

export async function reverify({ values, positionals, io }: CommandInput): Promise<number> {
  const id = onePositional(positionals, 'ID');
  const result = await clientFor(values, io).request<ReverifyQueued>('POST', `/terminations/${encodeURIComponent(id)}/reverify`, {
    body: {},
  });
  if (values.json) return printJson(io, result);
  io.out.write(
    `queued ${result.queued.length} re-verification(s) of termination ${result.termination.id}; results: deprovisiond evidence ${result.termination.id}\n`,
  );
  io.out.write(
    table(
      ['PROVIDER', 'ACTION', 'DUE'],
      result.queued.map((r) => [r.provider, r.action, r.dueAt]),
    ),
  );
  return 0;
}
