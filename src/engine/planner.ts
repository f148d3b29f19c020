/** Expands a playbook into the tasks of one termination. Pure: no I/O. */
import { newId } from '../domain/ids.ts';
import { CRITICAL_ACTIONS } from '../domain/types.ts';
import { MANUAL_PROVIDER, type Playbook } from '../config/schema.ts';
import type { NewTask } from '../store/store.ts';

export function planTasks(playbook: Playbook, effectiveAt: Date): NewTask[] {
  return playbook.steps.map((step) => ({
    id: newId(),
    stepId: step.id,
    provider: step.provider ?? MANUAL_PROVIDER,
    action: step.action,
    params: step.params,
    critical: step.critical ?? CRITICAL_ACTIONS.includes(step.action),
    dependsOn: step.after,
    notBefore: new Date(effectiveAt.getTime() + step.delay),
  }));
}
