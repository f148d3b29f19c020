/** `list`: terminations, newest first, one page at a time. */
import { colorsFor, stateColor, subjectLabel, table, time } from '../format.ts';
import type { CommandInput } from '../spec.ts';
import type { TerminationPage } from './answers.ts';
import { clientFor, noPositionals, printJson, str } from './common.ts';

const FILTERS = ['state', 'subject', 'since', 'until', 'limit', 'cursor'] as const;

export async function list({ values, positionals, io }: CommandInput): Promise<number> {
  noPositionals(positionals);
  const query = {
    ...Object.fromEntries(FILTERS.map((name) => [name, str(values, name)])),
    ...(values['failed-tasks'] ? { failedTasks: 'true' } : {}),
  };
  const page = await clientFor(values, io).request<TerminationPage>('GET', '/terminations', { query });
  if (values.json) return printJson(io, page);
  const colors = colorsFor(io.out, io.env);
  io.out.write(
    table(
      ['ID', 'STATE', 'SUBJECT', 'SOURCE', 'PLAYBOOK', 'REQUESTED', 'EFFECTIVE'],
      page.items.map((t) => [t.id, t.state, subjectLabel(t.subject), t.source, t.playbook, time(t.requestedAt), time(t.effectiveAt)]),
      { styleRow: (row, line) => stateColor(colors, row[1]!)(line) },
    ),
  );
  if (page.nextCursor) io.out.write(`more: --cursor ${page.nextCursor}\n`);
  return 0;
}
