/**
 * `deprovisiond reverify ID`: read back a completed termination's verified tasks now (drift check).
 * `deprovisiond reverify --since 30d`: the same for every termination finished in the window.
 */
import { table } from '../format.ts';
import { UsageError } from '../io.ts';
import type { CommandInput } from '../spec.ts';
import type { ReverifyQueued, ReverifySinceQueued } from './answers.ts';
import { clientFor, onePositional, printJson, str } from './common.ts';

export async function reverify({ values, positionals, io }: CommandInput): Promise<number> {
  const since = str(values, 'since');
  if (since !== undefined) {
    if (positionals.length > 0) throw new UsageError('give an ID or --since, not both');
    return reverifySince(since, { values, positionals, io });
  }
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

async function reverifySince(since: string, { values, io }: CommandInput): Promise<number> {
  const result = await clientFor(values, io).request<ReverifySinceQueued>('POST', '/reverify', { body: { since } });
  if (values.json) return printJson(io, result);
  io.out.write(
    `queued ${result.queued.length} re-verification(s) of ${result.terminations} termination(s) finished since ${result.since}; results: deprovisiond sweep --since ${since}\n`,
  );
  return 0;
}
