/**
 * `status ID`: the termination, one line per task, then each task's last error wrapped to
 * the width. The table stays within the terminal (100 columns when piped); `--wide` adds
 * task ids and the errors inline, for scripts that grep.
 */
import { colorsFor, outputWidth, stateColor, subjectLabel, table, time, wrap } from '../format.ts';
import type { CommandInput, Values } from '../spec.ts';
import type { TaskView, TerminationDetail } from './answers.ts';
import { clientFor, onePositional, printJson, str } from './common.ts';
import { waitingFor } from '../../domain/waiting.ts';
import { followTermination, taskChanges, timeoutMs, verdict } from './watch.ts';

export async function status({ values, positionals, io }: CommandInput): Promise<number> {
  const id = onePositional(positionals, 'ID');
  const client = clientFor(values, io);
  if (values.watch) {
    // On a terminal the view is redrawn in place; in a pipe, only the lines that changed follow.
    const changes = taskChanges(io);
    const redraw = (detail: TerminationDetail) => {
      if (values.json) return void io.out.write(`${JSON.stringify(detail)}\n`);
      if (!io.out.isTTY) return changes(detail);
      io.out.write('\x1b[H\x1b[2J');
      printStatus(io, values, detail);
    };
    const { detail, timedOut } = await followTermination(client, id, timeoutMs(str(values, 'timeout')), redraw);
    const { code, line } = verdict(detail, timedOut);
    if (!values.json) io.out.write(`${line}\n`);
    return code;
  }
  const detail = await client.request<TerminationDetail>('GET', `/terminations/${encodeURIComponent(id)}`);
  // A failed task is an open door even while its termination still runs other tasks.
  const code = detail.termination.state === 'failed' || detail.tasks.some((k) => k.state === 'failed') ? 1 : 0;
  if (values.json) return printJson(io, detail, code);
  printStatus(io, values, detail);
  return code;
}

function printStatus(io: CommandInput['io'], values: Values, detail: TerminationDetail): void {
  const colors = colorsFor(io.out, io.env);
  const width = outputWidth(io.out);
  const t = detail.termination;
  const tasks = detail.tasks;
  io.out.write(
    [
      `termination ${t.id}: ${stateColor(colors, t.state)(t.state)}`,
      `  subject    ${subjectLabel(t.subject)} (${t.subjectKey})`,
      `  playbook   ${t.playbook}   source ${t.source}   by ${t.createdBy}`,
      `  requested  ${time(t.requestedAt)}   effective ${time(t.effectiveAt)}`,
      `  revoked    ${time(t.revokedAt)}   finished ${time(t.finishedAt)}`,
      t.reason ? `  reason     ${t.reason}` : null,
      '',
    ]
      .filter((l) => l !== null)
      .join('\n') + '\n',
  );
  const styleRow = (row: string[], line: string) => stateColor(colors, row[values.wide ? 4 : 3]!)(line);
  const error = (k: TaskView) => (k.lastError ? `${k.lastError.kind}: ${k.lastError.message}` : null);
  if (values.wide) {
    io.out.write(
      table(
        ['TASK', 'STEP', 'PROVIDER', 'ACTION', 'STATE', 'ATTEMPTS', 'NOT BEFORE', 'LAST ERROR'],
        tasks.map((k) => [
          k.id,
          k.stepId,
          k.provider,
          k.action,
          k.state,
          k.attempts,
          time(k.notBefore),
          error(k) ?? waitingFor(k.checkpoint),
        ]),
        { styleRow },
      ),
    );
    return;
  }
  io.out.write(
    table(
      ['STEP', 'PROVIDER', 'ACTION', 'STATE', 'TRIES', 'NOT BEFORE'],
      tasks.map((k) => [k.stepId, k.provider, k.action, k.state, k.attempts, time(k.notBefore)]),
      { width, shrink: [0, 2, 1], styleRow },
    ),
  );
  const waiting = tasks.filter((k) => k.state === 'pending' && waitingFor(k.checkpoint));
  if (waiting.length > 0) io.out.write('\nwaiting:\n');
  for (const k of waiting) {
    io.out.write(`  ${stateColor(colors, k.state)(k.stepId)}\n`);
    io.out.write(wrap(waitingFor(k.checkpoint)!, width, '    '));
  }
  const failing = tasks.filter((k) => k.lastError);
  if (failing.length > 0) io.out.write('\nerrors:\n');
  for (const k of failing) {
    io.out.write(`  ${stateColor(colors, k.state)(`${k.stepId} (${k.state}, attempt ${k.attempts})`)}\n`);
    io.out.write(wrap(error(k)!, width, '    '));
  }
  if (tasks.some((k) => k.state === 'failed')) io.out.write(`\nreplay a failed step: deprovisiond replay ${t.id} --task STEP\n`);
  const inForce = (detail.legalHolds ?? []).filter((h) => h.releasedAt === null);
  if (inForce.length > 0) io.out.write('\nlegal holds in force (deletes wait; revocations do not):\n');
  for (const h of inForce) io.out.write(wrap(`${h.id}: ${h.reason} (by ${h.placedBy}, ${time(h.placedAt)})`, width, '  '));
  for (const held of detail.heldByLegalHold ?? []) io.out.write(`  ${held.stepId} waits for the hold\n`);
}
