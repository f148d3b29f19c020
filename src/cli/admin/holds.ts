/**
 * `deprovisiond hold` (a subject or one termination), `release HOLD` and `holds`: legal holds
 * (issue 29). A hold keeps deletes from running, never a revocation.
 */
import { table, time } from '../format.ts';
import { UsageError } from '../io.ts';
import type { CommandInput } from '../spec.ts';
import type { LegalHoldView, PlacedHoldView } from './answers.ts';
import { clientFor, noPositionals, onePositional, printJson, str, subjectFrom } from './common.ts';

const reasonOf = (values: CommandInput['values'], what: string): string => {
  const reason = str(values, 'reason')?.trim();
  if (!reason) throw new UsageError(`--reason is required: ${what} (it goes into the audit log)`);
  return reason;
};

export async function hold({ values, positionals, io }: CommandInput): Promise<number> {
  noPositionals(positionals);
  const reason = reasonOf(values, 'why the records must be kept, e.g. the case or audit reference');
  const terminationId = str(values, 'termination');
  const subjectGiven = ['external-id', 'user-name', 'email'].some((flag) => values[flag] !== undefined);
  if (terminationId !== undefined && subjectGiven) throw new UsageError('hold a subject or one termination (--termination), not both');
  const body = terminationId !== undefined ? { terminationId, reason } : { subject: subjectFrom(values), reason };
  const placed = await clientFor(values, io).request<PlacedHoldView>('POST', '/holds', { body });
  if (values.json) return printJson(io, placed);
  const what = placed.hold.terminationId ? `termination ${placed.hold.terminationId}` : `subject ${placed.hold.subjectKeys.join(', ')}`;
  io.out.write(`legal hold ${placed.hold.id} placed on ${what}: covers ${placed.terminations.length} termination(s) now\n`);
  io.out.write('deletes of the covered terminations wait until it is released; revocations are not held\n');
  for (const task of placed.alreadyRunning) {
    io.err.write(
      `warning: ${task.stepId} (${task.action} at ${task.provider}, termination ${task.terminationId}) was already running: the hold cannot stop it\n`,
    );
  }
  for (const task of placed.alreadyDone) {
    io.err.write(`warning: ${task.stepId} (${task.action} at ${task.provider}, termination ${task.terminationId}) had already run\n`);
  }
  return 0;
}

export async function release({ values, positionals, io }: CommandInput): Promise<number> {
  const id = onePositional(positionals, 'HOLD');
  const reason = reasonOf(values, 'why the hold ends');
  const result = await clientFor(values, io).request<{ hold: LegalHoldView }>('POST', `/holds/${encodeURIComponent(id)}/release`, {
    body: { reason },
  });
  if (values.json) return printJson(io, result);
  io.out.write(`legal hold ${result.hold.id} released; held deletes that are due run now\n`);
  return 0;
}

export async function holds({ values, positionals, io }: CommandInput): Promise<number> {
  noPositionals(positionals);
  const query = values.all ? '' : '?active=true';
  const result = await clientFor(values, io).request<{ items: LegalHoldView[] }>('GET', `/holds${query}`);
  if (values.json) return printJson(io, result);
  io.out.write(
    table(
      ['HOLD', 'ON', 'REASON', 'PLACED', 'BY', 'RELEASED'],
      result.items.map((h) => [
        h.id,
        h.terminationId ? `termination ${h.terminationId}` : h.subjectKeys.join(' '),
        h.reason,
        time(h.placedAt),
        h.placedBy,
        h.releasedAt ? `${time(h.releasedAt)} by ${h.releasedBy ?? ''}` : '-',
      ]),
    ),
  );
  return 0;
}
