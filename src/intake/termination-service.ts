/**
 * The one path by which a termination enters the system, whatever its source (SCIM,
 * webhook, admin API, CLI, demo): plan the playbook, then let the store apply the one rule
 * for the subject (create; or repeat, join, bring forward, supersede an open termination;
 * or refuse) in one transaction. The caller answers 2xx only after this resolves. Channels
 * cancel through here too, with the authority the configuration gives them.
 */
import { newId } from '../domain/ids.ts';
import type { Config } from '../config/schema.ts';
import { subjectKey } from '../domain/subject.ts';
import type { Subject, Termination, TerminationSource } from '../domain/types.ts';
import type { EngineEventBus } from '../engine/events.ts';
import { planTasks } from '../engine/planner.ts';
import { type CreateOptions, type CreateTerminationResult, type NewTask, type Store } from '../store/store.ts';
import { leaverFacts, matchingRule } from './playbook-rules.ts';

/** Step id of the notification the brake adds to a held termination: the only task that runs while it is held. */
export const BRAKE_NOTIFY_STEP = 'brake-held';

export interface TerminationRequest {
  source: TerminationSource;
  sourceEventId?: string | null;
  subject: Subject;
  reason?: string | null;
  /** Defaults to now; a future time schedules the termination (notice period). */
  effectiveAt?: Date | null;
  playbook?: string | null;
  /** Who asked: `scim:<client>`, `webhook:<id>`, `admin:<token name>`. */
  actor: string;
  /** SHA-256 of the canonical body: the same source event id with another body is refused (admin Idempotency-Key). */
  bodySha256?: string | null;
  /** Operators only: replace the subject's open termination instead of a 409 for another playbook. */
  supersede?: boolean;
}

export class UnknownPlaybookError extends Error {
  constructor(
    readonly playbook: string,
    readonly known: string[],
  ) {
    super(`unknown playbook "${playbook}"; expected one of: ${known.join(', ')}`);
    this.name = 'UnknownPlaybookError';
  }
}

export interface TerminationPlan {
  subjectKey: string;
  playbook: string;
  /** The `playbookRules` rule that chose the playbook; null when the request named it or the default applies. */
  rule: string | null;
  effectiveAt: Date;
  tasks: NewTask[];
}

export class TerminationService {
  constructor(
    private readonly store: Store,
    private readonly config: Pick<Config, 'playbooks' | 'defaultPlaybook'> & Partial<Pick<Config, 'brake' | 'intake' | 'playbookRules'>>,
    private readonly events: EngineEventBus,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * What a termination would do with the playbook it names (or the default), without
   * writing or reading anything: the check a request passes before it is accepted.
   */
  plan(request: Omit<TerminationRequest, 'actor' | 'source'>, rule: { name: string; playbook: string } | null = null): TerminationPlan {
    const name = request.playbook ?? rule?.playbook ?? this.config.defaultPlaybook;
    // An own property only: `__proto__`, `constructor` or `toString` must not find Object.prototype's members.
    const playbook = Object.hasOwn(this.config.playbooks, name) ? this.config.playbooks[name] : undefined;
    if (!playbook) throw new UnknownPlaybookError(name, Object.keys(this.config.playbooks));
    const key = subjectKey(request.subject);
    const effectiveAt = request.effectiveAt ?? this.now();
    return {
      subjectKey: key,
      playbook: name,
      rule: request.playbook ? null : (rule?.name ?? null),
      effectiveAt,
      tasks: planTasks(playbook, effectiveAt),
    };
  }

  /**
   * What the termination would do (dry run, and what submit writes): a request that names
   * no playbook gets the first `playbookRules` rule that the subject's directory entry and
   * groups satisfy, else the default.
   */
  async planFor(request: Omit<TerminationRequest, 'actor' | 'source'>): Promise<TerminationPlan> {
    const rules = this.config.playbookRules ?? [];
    if (request.playbook || rules.length === 0) return this.plan(request);
    return this.plan(request, matchingRule(rules, await leaverFacts(this.store, request.subject)));
  }

  async submit(request: TerminationRequest): Promise<CreateTerminationResult> {
    const plan = await this.planFor(request);
    const requestedAt = this.now();
    const result = await this.store.createTermination(
      {
        id: newId(),
        source: request.source,
        sourceEventId: request.sourceEventId ?? null,
        subjectKey: plan.subjectKey,
        subject: request.subject,
        reason: request.reason ?? null,
        playbook: plan.playbook,
        state: 'scheduled',
        requestedAt,
        effectiveAt: plan.effectiveAt,
        createdBy: request.actor,
      },
      plan.tasks,
      {
        ...this.brakeOptions(requestedAt),
        request: { playbookNamed: request.playbook != null, bodySha256: request.bodySha256 ?? null, supersede: request.supersede === true },
      },
    );
    this.events.emit('termination:received', {
      source: request.source,
      created: result.created,
      duplicate: result.duplicate,
      outcome: result.outcome,
      state: result.termination.state,
    });
    return result;
  }

  /** The blast-radius brake, when configured: hold past the limit, and say so to the security team. */
  private brakeOptions(now: Date): CreateOptions {
    const brake = this.config.brake;
    if (!brake) return {};
    const onHeld: NewTask[] = brake.notify
      ? [
          {
            id: newId(),
            stepId: BRAKE_NOTIFY_STEP,
            provider: brake.notify,
            action: 'notify',
            params: { event: 'held' },
            critical: false,
            dependsOn: [],
            notBefore: now,
          },
        ]
      : [];
    return { brake: { max: brake.maxTerminations, since: new Date(now.getTime() - brake.window) }, onHeld };
  }

  /**
   * A channel (not an operator) cancels a termination: allowed only when every channel
   * that asked for it is one this channel may cancel for (`intake.<channel>.mayCancel`,
   * default itself). Throws CancellationRefusedError, audited, otherwise.
   */
  async cancelAs(channel: Exclude<TerminationSource, 'admin'>, id: string, actor: string, reason: string): Promise<Termination | null> {
    const mayCancel = this.config.intake?.[channel]?.mayCancel ?? [channel];
    return this.store.cancelTermination(id, actor, reason, { channel, mayCancel });
  }

  /** Rehire before the last day: cancels the subject's open termination, if any, as the channel may. */
  async cancelForSubject(
    channel: Exclude<TerminationSource, 'admin'>,
    subject: Subject,
    actor: string,
    reason: string,
  ): Promise<Termination | null> {
    const open = await this.store.findOpenTermination(subjectKey(subject));
    if (!open) return null;
    return this.cancelAs(channel, open.id, actor, reason);
  }
}
