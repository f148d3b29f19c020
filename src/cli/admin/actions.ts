/** The operator's writes: cancel, approve, replay, waive, complete. Each is audited by the daemon with the token's name. */
import { table } from '../format.ts';
import { UsageError } from '../io.ts';
import type { CommandInput } from '../spec.ts';
import type { ApprovedHeld, Replayed, TaskChanged, TerminationChanged } from './answers.ts';
import { clientFor, onePositional, printJson, str } from './common.ts';

const path = (...parts: string[]) => `/terminations/${parts.map(encodeURIComponent).join('/')}`;

export async function cancel({ values, positionals, io }: CommandInput): Promise<number> {
  const id = onePositional(positionals, 'ID');
  const reason = str(values, 'reason');
  const result = await clientFor(values, io).request<TerminationChanged>('POST', `${path(id)}/cancel`, {
    body: reason !== undefined ? { reason } : {},
  });
  if (values.json) return printJson(io, result);
  io.out.write(`termination ${result.termination.id} ${result.termination.state}\n`);
  return 0;
}

export async function approve({ values, positionals, io }: CommandInput): Promise<number> {
  const client = clientFor(values, io);
  if (values['all-held']) {
    if (positionals.length > 0) throw new UsageError('give either ID or --all-held, not both');
    const result = await client.request<ApprovedHeld>('POST', '/terminations/approve-held', { body: { all: true } });
    if (values.json) return printJson(io, result);
    io.out.write(`approved ${result.approved.length} held termination(s)\n`);
    return 0;
  }
  const id = onePositional(positionals, 'ID (or --all-held)');
  const result = await client.request<TerminationChanged>('POST', `${path(id)}/approve`, { body: {} });
  if (values.json) return printJson(io, result);
  io.out.write(`termination ${result.termination.id} approved: ${result.termination.state}\n`);
  return 0;
}

export async function replay({ values, positionals, io }: CommandInput): Promise<number> {
  const id = onePositional(positionals, 'ID');
  const task = str(values, 'task');
  const target = task ? `${path(id, 'tasks', task)}/replay` : `${path(id)}/replay`;
  const result = await clientFor(values, io).request<Replayed>('POST', target, { body: {} });
  if (values.json) return printJson(io, result);
  io.out.write(`replayed ${result.replayed.length} task(s) of termination ${result.termination.id} (${result.termination.state})\n`);
  io.out.write(
    table(
      ['STEP', 'PROVIDER', 'ACTION', 'STATE'],
      result.replayed.map((k) => [k.stepId, k.provider, k.action, k.state]),
    ),
  );
  return 0;
}

export async function waive({ values, positionals, io }: CommandInput): Promise<number> {
  if (positionals.length !== 2)
    throw new UsageError(`expected ID and STEP (the failed step's name, or its task id), got ${positionals.length} argument(s)`);
  const reason = str(values, 'reason')?.trim();
  if (!reason)
    throw new UsageError('--reason is required: why the failed task no longer needs to run (it goes into the audit log and the evidence)');
  const [id, step] = positionals as [string, string];
  const result = await clientFor(values, io).request<TaskChanged>('POST', `${path(id, 'tasks', step)}/waive`, { body: { reason } });
  if (values.json) return printJson(io, result);
  io.out.write(`task ${result.task.stepId} (${result.task.id}) waived; termination ${result.termination.id} ${result.termination.state}\n`);
  return 0;
}

export async function complete({ values, positionals, io }: CommandInput): Promise<number> {
  if (positionals.length !== 2)
    throw new UsageError(`expected ID and STEP (the manual step's name, or its task id), got ${positionals.length} argument(s)`);
  const outcome = str(values, 'outcome');
  if (outcome !== 'done' && outcome !== 'not_applicable') throw new UsageError('--outcome must be done or not_applicable');
  const reason = str(values, 'reason');
  if (!reason) throw new UsageError('--reason is required (it goes into the audit log and the evidence)');
  const [id, step] = positionals as [string, string];
  const result = await clientFor(values, io).request<TaskChanged>('POST', `${path(id, 'tasks', step)}/complete`, {
    body: { outcome, reason },
  });
  if (values.json) return printJson(io, result);
  io.out.write(`task ${result.task.stepId} (${result.task.id}) ${result.task.state}\n`);
  return 0;
}
