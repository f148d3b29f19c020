/**
 * The rules a config must meet beyond its schema, and the follow-ups it asks for. `serve`
 * checks them before it listens and `config check` runs the same code (src/cli/local/
 * config-check.ts), so a config that passes the check also starts.
 */
import type { NewTask } from '../store/store.ts';
import type { Task, Termination } from '../domain/types.ts';
import { newId } from '../domain/ids.ts';
import { destructiveOrdering } from '../engine/planner.ts';
import type { ProviderSummary } from '../startup/provider-setup.ts';
import { ConfigError, locate } from './load.ts';
import type { Config } from './schema.ts';

/** Every playbook step must name an action its provider supports, and every notifier must be able to notify: found at start, not at 3 a.m. */
export function checkPlaybooks(config: Config, summaries: ProviderSummary[], file: string): void {
  const providers = new Map(summaries.map((p) => [p.name, p]));
  const problems: string[] = [];
  for (const [name, playbook] of Object.entries(config.playbooks)) {
    playbook.steps.forEach((step, i) => {
      const provider = step.provider === undefined ? undefined : providers.get(step.provider);
      if (provider && !provider.actions.includes(step.action)) {
        problems.push(`${locate(config, ['playbooks', name, 'steps', i, 'action'])}: provider ${step.provider} (${provider.kind}) supports ${provider.actions.join(', ')}, not ${step.action}`);
      }
    });
  }
  // The engine's destructive rule (invariant 9) and a step after a delete at its provider would wait for each other forever.
  for (const [name, playbook] of Object.entries(config.playbooks)) {
    for (const finding of destructiveOrdering(name, playbook).filter((f) => f.kind === 'deadlock')) {
      problems.push(`${locate(config, ['playbooks', name, 'steps', playbook.steps.findIndex((s) => s.id === finding.step)])}: ${finding.message}`);
    }
  }
  const notifiers: Array<[string[], string | undefined]> = [
    [['brake', 'notify'], config.brake?.notify],
    ...Object.entries(config.playbooks).map(([name, p]): [string[], string | undefined] => [['playbooks', name, 'onFailure', 'provider'], p.onFailure?.provider]),
  ];
  for (const [path, name] of notifiers) {
    if (name && !providers.get(name)?.actions.includes('notify')) problems.push(`${locate(config, path)}: provider ${name} cannot send notifications (expected a provider of kind notify)`);
  }
  if (problems.length > 0) throw new ConfigError(file, problems);
}

/** A playbook's `onFailure` channel hears about every step that fails for good (but not about its own failures). */
export function failureNotifications(config: Config, now: () => Date) {
  return (task: Task, termination: Termination, errorKind: string): NewTask[] => {
    const onFailure = Object.hasOwn(config.playbooks, termination.playbook) ? config.playbooks[termination.playbook]!.onFailure : undefined;
    if (!onFailure || task.action === 'notify') return [];
    return [
      {
        id: newId(),
        stepId: `notify-failed-${task.stepId}`,
        provider: onFailure.provider,
        action: 'notify',
        params: { ...onFailure.params, event: 'failed', failedStep: task.stepId, errorKind },
        critical: false,
        dependsOn: [],
        notBefore: now(),
      },
    ];
  };
}
