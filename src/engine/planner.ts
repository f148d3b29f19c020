/** Expands a playbook into the tasks of one termination, and reads its ordering. Pure: no I/O. */
import { newId } from '../domain/ids.ts';
import { isDestructive } from '../domain/termination-state.ts';
import { CRITICAL_ACTIONS, type ActionName } from '../domain/types.ts';
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

/**
 * Where a playbook's own `after` lists order a destructive step more weakly than the
 * engine does. The engine runs a destructive step only once every other step at its
 * provider has settled, so:
 * - `implicit`: steps at the provider that the destructive step does not come after
 *   (directly or through other steps). The engine waits for them anyway; the playbook
 *   reads as if it did not. Worth writing down, harmless.
 * - `deadlock`: steps at the provider that come after the destructive step. They wait for
 *   it and it waits for them: neither ever runs. The playbook is wrong.
 */
export interface DestructiveOrderingFinding {
  kind: 'implicit' | 'deadlock';
  /** The destructive step. */
  step: string;
  provider: string;
  action: ActionName;
  /** The steps at the same provider concerned, in playbook order. */
  steps: string[];
  /** One line for `config check`. */
  message: string;
}

export function destructiveOrdering(playbookName: string, playbook: Playbook): DestructiveOrderingFinding[] {
  const after = new Map(playbook.steps.map((s) => [s.id, s.after]));
  const findings: DestructiveOrderingFinding[] = [];
  for (const step of playbook.steps) {
    if (!isDestructive(step.action) || step.provider === undefined) continue;
    const before = ancestors(step.id, after);
    const siblings = playbook.steps.filter((s) => s.id !== step.id && s.provider === step.provider && !isDestructive(s.action));
    const deadlocked = siblings.filter((s) => ancestors(s.id, after).has(step.id)).map((s) => s.id);
    const implicit = siblings.filter((s) => !before.has(s.id) && !deadlocked.includes(s.id)).map((s) => s.id);
    const where = `playbook ${playbookName}: ${step.id} (${step.action} at ${step.provider})`;
    if (deadlocked.length > 0) {
      findings.push({
        kind: 'deadlock',
        step: step.id,
        provider: step.provider,
        action: step.action,
        steps: deadlocked,
        message: `${where} runs only after every other step at ${step.provider}, but ${deadlocked.join(', ')} come(s) after it: neither would ever run; remove ${step.id} from their after lists`,
      });
    }
    if (implicit.length > 0) {
      findings.push({
        kind: 'implicit',
        step: step.id,
        provider: step.provider,
        action: step.action,
        steps: implicit,
        message: `${where} also waits for ${implicit.join(', ')}, which its after list does not name: the engine waits for every other step at ${step.provider} before a destructive one`,
      });
    }
  }
  return findings;
}

/** Every step `id` comes after, directly or through others (the config check rejects cycles). */
function ancestors(id: string, after: Map<string, string[]>): Set<string> {
  const seen = new Set<string>();
  const stack = [...(after.get(id) ?? [])];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(after.get(next) ?? []));
  }
  return seen;
}
