/** `deprovisiond sweep --since 30d`: subjects terminated in the window with access back somewhere (drift), or not yet read back. */
import { toCsv } from '../csv.ts';
import { table, time } from '../format.ts';
import { UsageError } from '../io.ts';
import type { CommandInput } from '../spec.ts';
import type { SweepReport } from './answers.ts';
import { clientFor, noPositionals, printJson, str } from './common.ts';

const HEADERS = ['TERMINATION', 'SUBJECT', 'STATUS', 'DRIFT', 'PENDING', 'LAST CHECKED', 'REQUESTED'];

export async function sweep({ values, positionals, io }: CommandInput): Promise<number> {
  noPositionals(positionals);
  if (values.json && values.csv) throw new UsageError('--json and --csv: choose one');
  const report = await clientFor(values, io).request<SweepReport>('GET', '/sweep', { query: { since: str(values, 'since') ?? '30d' } });
  if (values.json) return printJson(io, report);
  const rows = report.items.map((r) => [
    r.terminationId,
    r.subject,
    r.status,
    r.drift.join(' '),
    r.pending.join(' '),
    r.lastCheckedAt ?? '',
    r.requestedAt,
  ]);
  if (values.csv) {
    io.out.write(toCsv([HEADERS.map((h) => h.toLowerCase().replace(' ', '_')), ...rows]));
    return 0;
  }
  if (rows.length === 0) {
    io.out.write(`no drift found and nothing waiting to be read back for terminations since ${time(report.since)}\n`);
    return 0;
  }
  io.out.write(
    table(
      HEADERS,
      rows.map((r) => [...r.slice(0, 5), time(r[5]), time(r[6])]),
    ),
  );
  return 0;
}
