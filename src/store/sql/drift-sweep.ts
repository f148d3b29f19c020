/**
 * The sweep report (issue 30): subjects terminated in a window with access back somewhere.
 * Per task, only its latest finished read-back counts (drift since remediated shows as
 * held); a read-back due and not yet made marks the task pending, since nothing is known yet.
 */
import type { DriftSweepRow } from '../../domain/reverify.ts';
import type { Subject } from '../../domain/types.ts';
import { openSubject } from '../rows.ts';
import type { StoreContext } from './context.ts';

export async function driftSweep(ctx: StoreContext, since: Date): Promise<DriftSweepRow[]> {
  const now = ctx.clock().getTime();
  const rows = await ctx.db
    .selectFrom('reverifications as r')
    .innerJoin('terminations as t', 't.id', 'r.termination_id')
    .select(['r.termination_id', 'r.task_id', 'r.provider', 'r.action', 'r.state', 'r.outcome', 'r.due_at', 'r.finished_at'])
    .select(['t.subject', 't.state as termination_state', 't.requested_at'])
    .where('t.requested_at', '>=', since.getTime())
    // Scheduled checks weeks ahead are not "pending": only what is due now and not yet read back.
    .where((eb) => eb.or([eb('r.state', '=', 'done'), eb('r.due_at', '<=', now)]))
    .orderBy('t.requested_at')
    .orderBy('r.termination_id')
    .execute();
  const byTermination = new Map<string, { row: (typeof rows)[number]; tasks: Map<string, TaskState> }>();
  for (const row of rows) {
    const entry = byTermination.get(row.termination_id) ?? { row, tasks: new Map<string, TaskState>() };
    byTermination.set(row.termination_id, entry);
    const task = entry.tasks.get(row.task_id) ?? { label: `${row.provider}/${row.action}`, pending: false, latest: null };
    entry.tasks.set(row.task_id, task);
    if (row.state !== 'done') task.pending = true;
    else if (!task.latest || Number(row.finished_at) > task.latest.at) task.latest = { at: Number(row.finished_at), outcome: row.outcome };
  }
  const keys = await ctx.personal.read(ctx.db, byTermination.keys());
  const report: DriftSweepRow[] = [];
  for (const [terminationId, { row, tasks }] of byTermination) {
    const all = [...tasks.values()];
    const drift = all.filter((t) => t.latest?.outcome === 'drift').map((t) => t.label);
    const pending = all.filter((t) => t.pending).map((t) => t.label);
    if (drift.length === 0 && pending.length === 0) continue;
    const checked = all.flatMap((t) => (t.latest ? [t.latest.at] : []));
    report.push({
      terminationId,
      subject: oneIdentifier(openSubject({ id: terminationId, subject: row.subject }, keys).subject),
      terminationState: row.termination_state,
      requestedAt: new Date(Number(row.requested_at)),
      status: drift.length > 0 ? 'drift' : 'pending',
      drift: drift.sort(),
      pending: pending.sort(),
      lastCheckedAt: checked.length > 0 ? new Date(Math.max(...checked)) : null,
    });
  }
  return report;
}

interface TaskState {
  label: string;
  pending: boolean;
  latest: { at: number; outcome: string | null } | null;
}

/** One identifier, as the CLI labels a subject (userName, first email, externalId): no display name, no manager. */
function oneIdentifier(subject: Subject): string {
  return subject.userName ?? subject.emails[0] ?? subject.externalId ?? '';
}
