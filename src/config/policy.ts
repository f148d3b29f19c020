/**
 * The rules a config must meet beyond its schema, and the follow-ups it asks for. `serve`
 * (src/daemon.ts) and `config check` (src/cli/local/config-check.ts) both run `preflight`
 * before anything listens, so a config that passes the check also starts, and both report
 * the same notes.
 */
import { expansionActions, InvalidExpansionError } from '../domain/members.ts';
import type { ProviderKind } from '../../providers/module.ts';
import type { RunningSandbox } from '../../providers/sandbox/kit.ts';
import type { NewTask } from '../store/store.ts';
import type { JsonObject, Task, Termination } from '../domain/types.ts';
import { newId } from '../domain/ids.ts';
import { destructiveOrdering } from '../engine/planner.ts';
import type { ProviderSpec, ProviderSummary } from '../startup/provider-setup.ts';
import { ConfigError, locate } from './load.ts';
import { providerSpecs } from './provider-settings.ts';
import type { Config } from './schema.ts';

/** What the checks before listening found, and the check that needs the providers' adapters. */
export interface Preflight {
  /** Each provider's settings, checked strictly against its kind (sandboxed ones against their started emulator). */
  specs: ProviderSpec[];
  /**
   * The playbooks against what the adapters support, and the notifiers: run once the
   * adapters exist, on whichever thread creates them (`serve` may create them on the
   * attempt thread). Throws a ConfigError listing every problem.
   */
  checkProviders: (providers: ProviderSummary[]) => void;
  /** Findings that refuse nothing but are worth reading: `config check` prints them, `serve` logs them once. */
  notes: string[];
}

/**
 * The checks `serve` and `config check` run before listening: provider settings, the
 * emulators of sandboxed providers started (each handed to `onSandbox` as it starts, so
 * the caller can stop it even if a later provider fails), and the notes on the playbooks.
 */
export async function preflight(
  config: Config,
  file: string,
  kinds: ReadonlyMap<string, ProviderKind>,
  onSandbox: (name: string, sandbox: RunningSandbox) => void,
): Promise<Preflight> {
  const specs = await providerSpecs(config, kinds, file, async (name, entry, kind) => {
    const started = await kind.startSandbox({ autoProvision: entry.sandbox!.autoProvision, faults: entry.sandbox!.faults });
    onSandbox(name, started);
    return started;
  });
  return { specs, checkProviders: (providers) => checkPlaybooks(config, providers, file), notes: playbookNotes(config) };
}

/**
 * A destructive step that also waits for steps its `after` list does not name (the engine
 * runs it only after every other step at its provider): allowed, but the playbook reads
 * as if it ran earlier than it will.
 */
function playbookNotes(config: Config): string[] {
  return Object.entries(config.playbooks).flatMap(([name, playbook]) =>
    destructiveOrdering(name, playbook)
      .filter((finding) => finding.kind === 'implicit')
      .map(
        (finding) =>
          `${locate(config, ['playbooks', name, 'steps', playbook.steps.findIndex((s) => s.id === finding.step)])}: ${finding.message}`,
      ),
  );
}

/** Every playbook step must name an action its provider supports, and every notifier must be able to notify: found at start, not at 3 a.m. */
export function checkPlaybooks(config: Config, summaries: ProviderSummary[], file: string): void {
  const providers = new Map(summaries.map((p) => [p.name, p]));
  const problems: string[] = [];
  for (const [name, playbook] of Object.entries(config.playbooks)) {
    playbook.steps.forEach((step, i) => {
      if (step.provider === undefined) return;
      const provider = providers.get(step.provider);
      if (provider && !provider.actions.includes(step.action)) {
        problems.push(
          `${locate(config, ['playbooks', name, 'steps', i, 'action'])}: provider ${step.provider} (${provider.kind}) supports ${provider.actions.join(', ')}, not ${step.action}`,
        );
      }
      if (provider && step.action === 'expand_members') {
        // Each member gets these actions at the same provider: checked now, not when a client leaves.
        try {
          const missing = expansionActions(step.params).filter((action) => !provider.actions.includes(action));
          if (missing.length > 0) {
            problems.push(
              `${locate(config, ['playbooks', name, 'steps', i, 'params', 'actions'])}: provider ${step.provider} (${provider.kind}) does not support ${missing.join(', ')} for its members`,
            );
          }
        } catch (error) {
          if (!(error instanceof InvalidExpansionError)) throw error;
          problems.push(`${locate(config, ['playbooks', name, 'steps', i, 'params'])}: ${error.message}`);
        }
      }
    });
  }
  // The engine's destructive rule (invariant 9) and a step after a delete at its provider would wait for each other forever.
  for (const [name, playbook] of Object.entries(config.playbooks)) {
    for (const finding of destructiveOrdering(name, playbook).filter((f) => f.kind === 'deadlock')) {
      problems.push(
        `${locate(config, ['playbooks', name, 'steps', playbook.steps.findIndex((s) => s.id === finding.step)])}: ${finding.message}`,
      );
    }
  }
  const notifiers: Array<[string[], string | undefined]> = [
    [['brake', 'notify'], config.brake?.notify],
    ...Object.entries(config.playbooks).map(([name, p]): [string[], string | undefined] => [
      ['playbooks', name, 'onFailure', 'provider'],
      p.onFailure?.provider,
    ]),
  ];
  for (const [path, name] of notifiers) {
    if (name && !providers.get(name)?.actions.includes('notify'))
      problems.push(`${locate(config, path)}: provider ${name} cannot send notifications (expected a provider of kind notify)`);
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

/**
 * A playbook's `onFailure` channel hears when a waiting step becomes overdue (money still
 * owed past the agreed deadline): which step, and what it waits for. Never failed silently,
 * never failed either: the step keeps waiting.
 */
export function overdueNotifications(config: Config, now: () => Date) {
  return (task: Task, termination: Termination, waitingFor: string | null): NewTask[] => {
    const onFailure = Object.hasOwn(config.playbooks, termination.playbook) ? config.playbooks[termination.playbook]!.onFailure : undefined;
    if (!onFailure || task.action === 'notify') return [];
    return [
      {
        id: newId(),
        stepId: `notify-overdue-${task.stepId}`,
        provider: onFailure.provider,
        action: 'notify',
        params: { ...onFailure.params, event: 'overdue', overdueStep: task.stepId, waitingFor },
        critical: false,
        dependsOn: [],
        notBefore: now(),
      },
    ];
  };
}

/**
 * A playbook's `onFailure` channel hears about drift too: which step, what the read-back
 * saw, and whether the action runs again. No notification is re-verified, so none drifts.
 */
export function driftNotifications(config: Config, now: () => Date) {
  return (task: Task, termination: Termination, evidence: JsonObject): NewTask[] => {
    const playbook = Object.hasOwn(config.playbooks, termination.playbook) ? config.playbooks[termination.playbook] : undefined;
    if (!playbook?.onFailure) return [];
    return [
      {
        id: newId(),
        stepId: `notify-drift-${task.stepId}`,
        provider: playbook.onFailure.provider,
        action: 'notify',
        params: {
          ...playbook.onFailure.params,
          event: 'drift',
          driftStep: task.stepId,
          provider: task.provider,
          action: task.action,
          observed: evidence.observed ?? null,
          remediating: playbook.reverify.remediate,
        },
        critical: false,
        dependsOn: [],
        notBefore: now(),
      },
    ];
  };
}

/** The re-verification offsets of each playbook: its own, or the top-level default. */
export function reverifySchedule(config: Config): (playbook: string) => readonly number[] {
  return (playbook) =>
    (Object.hasOwn(config.playbooks, playbook) ? config.playbooks[playbook]!.reverify.offsets : undefined) ?? config.reverify.offsets;
}
