/** What the admin API answers: domain objects, with the derived lists a reader looks for first. */
import { holdsKeeping, type LegalHold } from '../domain/legal-hold.ts';
import type { Task, TaskAttempt, Termination } from '../domain/types.ts';

export interface TerminationDetail {
  termination: Termination;
  tasks: Task[];
  attempts: TaskAttempt[];
  /** The last error of every task that has one (failed, or retrying). */
  errors: Array<{ taskId: string; stepId: string; provider: string; action: string; state: Task['state']; kind: string; message: string }>;
  /** What each finished task read back from its provider. */
  evidence: Array<{ taskId: string; stepId: string; provider: string; action: string; state: Task['state']; evidence: Task['evidence'] }>;
  /** Every legal hold on the termination or its subject, released ones included, oldest first. */
  legalHolds: LegalHold[];
  /** Destructive steps that wait for a legal hold in force, with the holds that keep them. */
  heldByLegalHold: Array<{ taskId: string; stepId: string; provider: string; action: string; holds: string[] }>;
}

export function terminationDetail(termination: Termination, tasks: Task[], attempts: TaskAttempt[], holds: LegalHold[]): TerminationDetail {
  return {
    termination,
    tasks,
    attempts,
    errors: tasks
      .filter((t) => t.lastError)
      .map((t) => ({ taskId: t.id, stepId: t.stepId, provider: t.provider, action: t.action, state: t.state, ...t.lastError! })),
    evidence: tasks
      .filter((t) => t.evidence)
      .map((t) => ({ taskId: t.id, stepId: t.stepId, provider: t.provider, action: t.action, state: t.state, evidence: t.evidence })),
    legalHolds: holds,
    heldByLegalHold: tasks
      .map((t) => ({ task: t, keeping: holdsKeeping(t, holds) }))
      .filter(({ keeping }) => keeping.length > 0)
      .map(({ task: t, keeping }) => ({
        taskId: t.id,
        stepId: t.stepId,
        provider: t.provider,
        action: t.action,
        holds: keeping.map((h) => h.id),
      })),
  };
}

/** The keys a raw identifier could have formed (see subjectKey): the HRIS id, a userName, an email. */
export function subjectKeysFor(subject: string): string[] {
  if (/^(ext|user|email|org):/.test(subject)) return [subject];
  const lower = subject.toLowerCase();
  return [`ext:${subject}`, `user:${lower}`, `email:${lower}`];
}
