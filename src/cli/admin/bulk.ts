/**
 * `terminate --from-csv FILE`: the HR spreadsheet case. One termination per row; a dry run
 * (the plan of each row, nothing written) unless `--apply`. Each row's idempotency key is
 * derived from its content, so running the same file again creates nothing twice. The
 * blast-radius brake applies as to any other intake: rows past it come back `held`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { ApiError, type AdminClient } from '../client.ts';
import { colorsFor, stateColor, table } from '../format.ts';
import { UsageError, type CliIo } from '../io.ts';
import type { Subject } from '../../domain/types.ts';
import type { Created, Planned } from './answers.ts';

/** The columns a file may have: the `terminate` flags' names. `email` may hold several, separated by `;`. */
export const CSV_COLUMNS = [
  'external-id',
  'user-name',
  'email',
  'display-name',
  'manager-email',
  'effective-at',
  'reason',
  'playbook',
] as const;

interface Row {
  line: number;
  body: Record<string, unknown>;
}

export async function terminateFromCsv(client: AdminClient, file: string, apply: boolean, io: CliIo, asJson: boolean): Promise<number> {
  const rows = readRows(file);
  const results: Array<{ line: number; subject: string; outcome: string; detail: string }> = [];
  for (const row of rows) {
    const named = row.body.subject as Subject;
    const subject = named.userName ?? named.externalId ?? named.emails[0] ?? '';
    try {
      if (apply) {
        const key = `csv:${createHash('sha256').update(JSON.stringify(row.body)).digest('hex').slice(0, 32)}`;
        const created = await client.request<Created>('POST', '/terminations', { body: row.body, headers: { 'idempotency-key': key } });
        results.push({
          line: row.line,
          subject,
          outcome: created.state,
          detail: `${created.terminationId}${created.duplicate ? ' (already known)' : ''}`,
        });
      } else {
        const { plan, existingTerminationId } = await client.request<Planned>('POST', '/terminations', {
          body: row.body,
          query: { dryRun: 'true' },
        });
        results.push({
          line: row.line,
          subject,
          outcome: 'planned',
          detail: `${plan.tasks.length} tasks, playbook ${plan.playbook}${existingTerminationId ? `, open termination ${existingTerminationId}` : ''}`,
        });
      }
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const details = Array.isArray(error.details)
        ? `: ${(error.details as Array<{ field: string; message: string }>).map((d) => `${d.field} ${d.message}`).join('; ')}`
        : '';
      results.push({
        line: row.line,
        subject,
        outcome: 'refused',
        detail: `${error.message}${error.status ? ` (HTTP ${error.status})` : ''}${details}`,
      });
    }
  }
  const refused = results.filter((r) => r.outcome === 'refused').length;
  if (asJson) {
    io.out.write(`${JSON.stringify({ file, applied: apply, rows: results }, null, 2)}\n`);
    return refused > 0 ? 1 : 0;
  }
  const colors = colorsFor(io.out, io.env);
  io.out.write(
    table(
      ['LINE', 'SUBJECT', 'OUTCOME', 'DETAIL'],
      results.map((r) => [r.line, r.subject, r.outcome, r.detail]),
      { styleRow: (row, line) => stateColor(colors, row[2] === 'refused' ? 'failed' : row[2]!)(line) },
    ),
  );
  const summary = `${rows.length} row(s), ${refused} refused`;
  io.out.write(apply ? `${summary}\n` : `${summary}. Nothing was written: run again with --apply to create them.\n`);
  return refused > 0 ? 1 : 0;
}

function readRows(file: string): Row[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--from-csv: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let records: Array<{ record: Record<string, string>; info: { lines: number } }>;
  try {
    records = parse(text, { columns: true, skip_empty_lines: true, trim: true, info: true, bom: true });
  } catch (error) {
    throw new UsageError(`--from-csv ${file}: ${(error as Error).message}`);
  }
  if (records.length === 0) throw new UsageError(`--from-csv ${file}: no rows under the header line`);
  const unknown = Object.keys(records[0]!.record).filter((c) => !(CSV_COLUMNS as readonly string[]).includes(c));
  if (unknown.length > 0)
    throw new UsageError(`--from-csv ${file}: unknown column(s) ${unknown.join(', ')}; expected some of: ${CSV_COLUMNS.join(', ')}`);
  return records.map(({ record, info }) => ({ line: info.lines, body: bodyOf(record, file, info.lines) }));
}

function bodyOf(record: Record<string, string>, file: string, line: number): Record<string, unknown> {
  // An empty cell is no value, as an absent column is.
  const value = (name: (typeof CSV_COLUMNS)[number]) => (record[name] === '' ? undefined : record[name]);
  const emails = (value('email') ?? '')
    .split(';')
    .map((e) => e.trim())
    .filter(Boolean);
  const subject: Record<string, unknown> = { emails };
  if (value('external-id')) subject.externalId = value('external-id');
  if (value('user-name')) subject.userName = value('user-name');
  if (value('display-name')) subject.displayName = value('display-name');
  if (value('manager-email')) subject.manager = { email: value('manager-email') };
  if (!subject.externalId && !subject.userName && emails.length === 0)
    throw new UsageError(`${file}:${line}: the row names no subject (external-id, user-name or email)`);
  return {
    subject,
    ...(value('reason') ? { reason: value('reason') } : {}),
    ...(value('effective-at') ? { effectiveAt: value('effective-at') } : {}),
    ...(value('playbook') ? { playbook: value('playbook') } : {}),
  };
}
