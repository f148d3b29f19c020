/** What the admin API answers: domain objects, with the derived lists a reader looks for first. */
import type { Task, TaskAttempt, Termination } from '../domain/types.ts';

export interface TerminationDetail {
  termination: Termination;
  tasks: Task[];
  attempts: TaskAttempt[];
  /** The last error of every task that has one (failed, or retrying). */
  errors: Array<{ taskId: string; stepId: string; provider: string; action: string; state: Task['state']; kind: string; message: string }>;
  /** What each finished task read back from its provider. */
  evidence: Array<{ taskId: string; stepId: string; provider: string; action: string; state: Task['state']; evidence: Task['evidence'] }>;
}

export function terminationDetail(termination: Termination, tasks: Task[], attempts: TaskAttempt[]): TerminationDetail {
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
  };
}

/** The keys a raw identifier could have formed (see subjectKey): the HRIS id, a userName, an email. */
export function subjectKeysFor(subject: string): string[] {
  if (/^(ext|user|email):/.test(subject)) return [subject];
  const lower = subject.toLowerCase();
  return [`ext:${subject}`, `user:${lower}`, `email:${lower}`];
}
