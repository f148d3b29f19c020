/** Writes a termination's tasks and their dependency edges; used at creation and for follow-ups. */
import type { NewTask } from '../store.ts';
import { SEALED, sealedJson } from '../rows.ts';
import type { Tx } from './context.ts';
import { NO_KEYS, type RecordKeys } from './personal-data.ts';

/** Inserts tasks of one termination and their dependency edges (by step id, within `tasks`). */
export async function insertTasks(
  trx: Tx,
  terminationId: string,
  tasks: NewTask[],
  now: number,
  options: { runsWhileHeld?: boolean; keys?: RecordKeys } = {},
): Promise<void> {
  if (tasks.length === 0) return;
  await trx
    .insertInto('tasks')
    .values(
      tasks.map((task) => ({
        id: task.id,
        termination_id: terminationId,
        step_id: task.stepId,
        provider: task.provider,
        action: task.action,
        params: Object.hasOwn(task.params, 'member')
          ? sealedJson(options.keys ?? NO_KEYS, terminationId, SEALED.params, task.params)!
          : JSON.stringify(task.params),
        critical: task.critical ? 1 : 0,
        not_before: task.notBefore.getTime(),
        state: 'pending',
        attempts: 0,
        rate_limited_count: 0,
        next_attempt_at: task.notBefore.getTime(),
        due_at: task.notBefore.getTime(),
        ...(options.runsWhileHeld ? { runs_while_held: 1 } : {}),
        // Only member tasks know their account at creation; they go in as INSERTs of their own.
        ...(task.account ? { account: sealedJson(options.keys ?? NO_KEYS, terminationId, SEALED.account, task.account) } : {}),
        // The columns a new task leaves NULL (lease, account, checkpoint, error, evidence,
        // times) are left out: a termination's tasks go in as one multi-row INSERT, and
        // each value costs the query builder and the bind on every row.
        updated_at: now,
      })),
    )
    .execute();
  const idByStep = new Map(tasks.map((task) => [task.stepId, task.id]));
  const edges = tasks.flatMap((task) =>
    task.dependsOn.map((step) => {
      const dependsOnId = idByStep.get(step);
      if (!dependsOnId) throw new Error(`task ${task.stepId} depends on unknown step ${step}`);
      return { task_id: task.id, depends_on_task_id: dependsOnId };
    }),
  );
  if (edges.length > 0) await trx.insertInto('task_dependencies').values(edges).execute();
}
