/**
 * The member tasks of an organization's expansion (issue 28), written in the transaction that
 * records the expansion's success: one task per member and action, with the member's account,
 * keyed by (expansion step, member id, action) so that nothing is created twice; and the
 * steps that come after the expansion wait for every member task too.
 */
import { newId } from '../../domain/ids.ts';
import { isMemberCritical, memberParams, memberStepId, type Expansion } from '../../domain/members.ts';
import type { JsonObject } from '../../domain/types.ts';
import type { NewTask } from '../store.ts';
import type { Tx } from './context.ts';
import type { PersonalData } from './personal-data.ts';
import { insertTasks } from './insert-tasks.ts';

/** Step id (then `-<expansion step>`) of the message that an organization's size held its termination. */
export const BRAKE_MEMBERS_STEP = 'brake-held-members';

/** Rows per INSERT: a member task binds about 14 values, well under SQLite's 32,766. */
const CHUNK = 500;

export interface ExpansionWrite {
  /** Member tasks created by this result. */
  created: number;
  /** Member tasks that were already there (an earlier result of the same expansion). */
  existing: number;
}

export async function insertMemberTasks(
  trx: Tx,
  parent: { id: string; termination_id: string; step_id: string; provider: string; params: string },
  expansion: Expansion,
  now: number,
  personal: PersonalData,
): Promise<ExpansionWrite> {
  const prefix = `${parent.step_id}/`;
  // Read through the (termination_id, step_id) index; the prefix is compared here, not by a LIKE with escapes.
  const existing = new Set(
    (await trx.selectFrom('tasks').select('step_id').where('termination_id', '=', parent.termination_id).execute())
      .map((r) => r.step_id)
      .filter((step) => step.startsWith(prefix)),
  );
  const stepParams = JSON.parse(parent.params) as JsonObject;
  const tasks: NewTask[] = [];
  let already = 0;
  for (const member of expansion.members) {
    for (const action of expansion.actions) {
      const stepId = memberStepId(parent.step_id, member.id, action);
      if (existing.has(stepId)) {
        already += 1;
        continue;
      }
      existing.add(stepId);
      tasks.push({
        id: newId(),
        stepId,
        provider: parent.provider,
        action,
        params: memberParams(stepParams, member),
        critical: isMemberCritical(action),
        dependsOn: [],
        notBefore: new Date(now),
        account: member.account,
      });
    }
  }
  const keys = await personal.read(trx, [parent.termination_id]);
  for (let i = 0; i < tasks.length; i += CHUNK) await insertTasks(trx, parent.termination_id, tasks.slice(i, i + CHUNK), now, { keys });
  // What waited for the expansion waits for its members as well: an edge from each dependant to each member task.
  const dependants = (
    await trx.selectFrom('task_dependencies').select('task_id').where('depends_on_task_id', '=', parent.id).execute()
  ).map((r) => r.task_id);
  const edges = dependants.flatMap((taskId) => tasks.map((child) => ({ task_id: taskId, depends_on_task_id: child.id })));
  for (let i = 0; i < edges.length; i += CHUNK)
    await trx
      .insertInto('task_dependencies')
      .values(edges.slice(i, i + CHUNK))
      .execute();
  return { created: tasks.length, existing: already };
}
