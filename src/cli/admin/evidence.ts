/** `evidence ID`: the termination's evidence document, JSON by default or the printable HTML page. */
import type { CommandInput } from '../spec.ts';
import { clientFor, onePositional, printJson } from './common.ts';

export async function evidence({ values, positionals, io }: CommandInput): Promise<number> {
  const id = encodeURIComponent(onePositional(positionals, 'ID'));
  const client = clientFor(values, io);
  if (values.html) {
    io.out.write(await client.text('GET', `/terminations/${id}/evidence`, { query: { format: 'html' } }));
    return 0;
  }
  return printJson(io, await client.request<unknown>('GET', `/terminations/${id}/evidence`));
}
