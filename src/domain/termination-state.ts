/**
 * A termination's state, derived from its tasks alone. Pure: the store calls it inside the
 * transaction that finished, completed, waived or replayed a task.
 */
import { DESTRUCTIVE_ACTIONS, type ActionName, type TaskState, type TerminationState } from './types.ts';

export interface SettlingTask {
  id: string;
  state: TaskState;
  critical: boolean;
  provider: string;
  action: ActionName;
  /** Ids (not step names) of the tasks this one waits for. */
  dependsOnIds: readonly string[];
}

export interface DerivedState {
  state: Extract<TerminationState, 'running' | 'failed' | 'completed' | 'completed_with_waivers'>;
  /** Every critical task succeeded or was skipped: access is verifiably gone. A waived one is not proof. */
  revoked: boolean;
}

export const isDestructive = (action: ActionName): boolean => DESTRUCTIVE_ACTIONS.includes(action);

/**
 * - `running` while any task is running, or pending and able to run without an operator
 *   (waiting for its time, a retry, a person, or tasks that are themselves still live);
 * - `failed` once nothing can move without an operator and some task failed: the tasks
 *   left pending wait behind a failure (a dependency failed, or a destructive step's
 *   provider has a failed task), which only a replay or a waiver releases;
 * - `completed` when every task succeeded, was skipped or cancelled;
 *   `completed_with_waivers` when, besides, an operator waived at least one.
 */
export function deriveTerminationState(tasks: readonly SettlingTask[]): DerivedState {
  const stuck = tasksBehindFailures(tasks);
  const live = tasks.some((t) => t.state === 'running' || (t.state === 'pending' && !stuck.has(t.id)));
  const critical = tasks.filter((t) => t.critical);
  const revoked = critical.length > 0 && critical.every((t) => t.state === 'succeeded' || t.state === 'skipped');
  if (live) return { state: 'running', revoked };
  if (tasks.some((t) => t.state === 'failed')) return { state: 'failed', revoked };
  return { state: tasks.some((t) => t.state === 'waived') ? 'completed_with_waivers' : 'completed', revoked };
}

/** Pending tasks that can never run unless an operator replays or waives a failed task. */
function tasksBehindFailures(tasks: readonly SettlingTask[]): Set<string> {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const stuck = new Set<string>();
  const blocks = (t: SettlingTask | undefined) => t !== undefined && (t.state === 'failed' || stuck.has(t.id));
  // A fixed point over a termination's few dozen tasks at most: each pass adds a task or ends.
  for (let changed = true; changed;) {
    changed = false;
    for (const task of tasks) {
      if (task.state !== 'pending' || stuck.has(task.id)) continue;
      const behindDependency = task.dependsOnIds.some((id) => blocks(byId.get(id)));
      const behindProvider =
        isDestructive(task.action) &&
        tasks.some((other) => other.id !== task.id && other.provider === task.provider && !isDestructive(other.action) && blocks(other));
      if (behindDependency || behindProvider) {
        stuck.add(task.id);
        changed = true;
      }
    }
  }
  return stuck;
}
