/**
 * Runs due re-verifications (src/domain/reverify.ts) at low priority: at a provider only
 * while the engine runs nothing there and no live task of it is due (the store's claim
 * checks that), through a small gate of its own (`reverify.concurrency`, `tasksPerSecond`).
 * A read-back that disagrees is drift: counted, audited, told, and remediated when the
 * playbook says so (the store puts the task back in the queue; the engine runs it).
 *
 * It looks for work with one cheap query (the earliest moment a re-verification can be
 * claimed) and claims only when that moment has come: a claim is a transaction per provider,
 * and store writes, which wake it, are frequent under load while re-verifications fall due
 * rarely. It sleeps until that moment, until a store write (which may have scheduled one),
 * or at most `reverify.pollInterval`.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { coerceError } from '../domain/errors.ts';
import { MAX_REVERIFY_CLAIMS } from '../domain/reverify.ts';
import { isDestructive } from '../domain/termination-state.ts';
import type { JsonObject, Task, Termination } from '../domain/types.ts';
import type { DueReverification, NewTask, ReverificationQueue, ReverifyResult, TaskQueue } from '../store/store.ts';
import type { AttemptRunner } from './attempts.ts';
import type { EngineEventBus } from './events.ts';
import { monotonicMs } from './lease-fence.ts';
import { ProviderGate } from './provider-gate.ts';
import type { AttemptResult } from './runner.ts';

/** What the reverifier needs of the engine: whether a provider is free, and a shared pause. */
export interface LiveWork {
  providerIdle(provider: string): boolean;
  pauseProvider(provider: string, retryAfterMs: number): void;
}

export interface ReverifierOptions {
  store: ReverificationQueue & Pick<TaskQueue, 'getTerminations' | 'onWake'>;
  attempts: AttemptRunner;
  providers: readonly string[];
  live: LiveWork;
  reverify: Config['reverify'];
  engine: Config['engine'];
  /** Whether a playbook's drift is remediated (`playbooks.<name>.reverify.remediate`). */
  remediate: (playbook: string) => boolean;
  /** Tasks telling people about a drift (the playbook's onFailure), added with its record. */
  followUpOnDrift?: (task: Task, termination: Termination, evidence: JsonObject) => NewTask[];
  events: EngineEventBus;
  logger: Logger;
  workerId: string;
  now?: () => Date;
}

/**
 * A store write is looked at (one query) at most this late, and work left due after a pass
 * (its provider busy) is looked at again after this long: nothing here is urgent.
 */
const WAKE_DEBOUNCE_MS = 1_000;
/** A read-back that could not be made is tried again after this long (times the claims so far). */
const ERROR_RETRY_MS = 5 * 60_000;

export class Reverifier {
  private readonly gates = new Map<string, ProviderGate>();
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires (epoch ms): a wake may bring it forward, never push it back. */
  private timerAt = Infinity;
  private running = false;
  private ticking = false;
  /** A timer fired during a pass: look again as soon as it ends. */
  private lookAgain = false;
  private unsubscribe: (() => void) | null = null;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: ReverifierOptions) {
    this.now = options.now ?? (() => new Date());
    for (const name of options.providers) {
      const { concurrency, tasksPerSecond } = options.reverify;
      this.gates.set(name, new ProviderGate(name, { concurrency, tasksPerSecond }, () => this.schedule(0)));
    }
  }

  start(): void {
    // Runs even with no offsets configured: on-demand checks still need it.
    if (this.running || this.gates.size === 0) return;
    this.running = true;
    // A write may have scheduled a re-verification (completions, on-demand requests, another replica's NOTIFY).
    this.unsubscribe = this.options.store.onWake(() => this.schedule(WAKE_DEBOUNCE_MS));
    this.schedule(0);
  }

  /** One pass now: claims what is due and runs it; resolves when the pass's claims are made. */
  async runDue(): Promise<number> {
    const due = await Promise.all(
      [...this.gates].map(async ([name, gate]) => {
        if (!this.options.live.providerIdle(name)) return [];
        const claimed = await this.options.store.claimDueReverifications({
          worker: this.options.workerId,
          provider: name,
          now: this.now(),
          // A read is not fenced: a lease that outlasts the attempt's deadline keeps another replica from reading twice.
          leaseMs: this.options.engine.attemptTimeout + this.options.engine.lease,
          limit: gate.capacity(),
        });
        return claimed.map((item) => ({ gate, item }));
      }),
    );
    const batch = due.flat();
    if (batch.length === 0) return 0;
    const terminations = await this.options.store.getTerminations([...new Set(batch.map(({ item }) => item.task.terminationId))]);
    for (const { gate, item } of batch) {
      const termination = terminations.get(item.task.terminationId);
      if (!termination) continue;
      const work = gate
        .run(item.reverification.id, () => this.run(gate, item, termination))
        .catch((error: unknown) => {
          this.options.logger.error({ err: coerceError(error), reverification: item.reverification.id }, 're-verification crashed');
        });
      this.inFlight.add(work);
      void work.finally(() => this.inFlight.delete(work));
    }
    return batch.length;
  }

  /** Resolves when every re-verification started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.idle();
    for (const gate of this.gates.values()) gate.close();
  }

  /** Arms the timer for `delayMs` from now, unless it is armed to fire sooner already. */
  private schedule(delayMs: number): void {
    if (!this.running) return;
    const at = Date.now() + delayMs;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      void this.tick();
    }, delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    if (this.ticking) {
      this.lookAgain = true;
      return;
    }
    this.ticking = true;
    let delay: number;
    try {
      delay = await this.pass();
    } catch (error) {
      this.options.logger.warn({ err: coerceError(error) }, 're-verification pass failed; trying again');
      delay = this.options.reverify.pollInterval;
    } finally {
      this.ticking = false;
    }
    this.schedule(this.lookAgain ? 0 : delay);
    this.lookAgain = false;
  }

  /** Claims only once something can be claimed; answers how long to sleep before looking again. */
  private async pass(): Promise<number> {
    const poll = this.options.reverify.pollInterval;
    const next = await this.options.store.nextReverificationAt([...this.gates.keys()]);
    // Nothing scheduled: a store write wakes us when something is; the poll is only a safety net.
    if (!next) return poll;
    const wait = next.getTime() - this.now().getTime();
    if (wait > 0) return Math.min(poll, wait);
    await this.runDue();
    // What is still due (its provider busy with live work, or more than a gate takes) waits a little.
    return Math.min(poll, WAKE_DEBOUNCE_MS);
  }

  private async run(gate: ProviderGate, item: DueReverification, termination: Termination): Promise<void> {
    const { reverification, task } = item;
    const result: ReverifyResult =
      reverification.claims > MAX_REVERIFY_CLAIMS
        ? { outcome: 'error', evidence: { error: `${MAX_REVERIFY_CLAIMS} claims ended without a result; given up` }, retryAt: null }
        : this.judge(gate, task, termination, await this.readBack(task, termination, item.provenAt), reverification.claims);
    const applied = await this.options.store.finishReverification(this.options.workerId, reverification, result);
    if (!applied) {
      this.options.logger.warn({ reverification: reverification.id }, 're-verification result discarded: its lease had passed on');
      return;
    }
    const final = result.outcome !== 'error' || !result.retryAt;
    if (final) {
      this.options.events.emit('task:reverified', {
        terminationId: task.terminationId,
        taskId: task.id,
        provider: task.provider,
        action: task.action,
        outcome: result.outcome,
        remediating: result.remediate === true,
      });
    }
    if (result.outcome === 'drift') {
      this.options.logger.warn(
        { terminationId: task.terminationId, taskId: task.id, provider: task.provider, action: task.action, remediating: result.remediate },
        'drift: a revoked access is back',
      );
    }
  }

  private readBack(task: Task, termination: Termination, provenAt: Date | null): Promise<AttemptResult> {
    return this.options.attempts.run(
      {
        task,
        termination,
        worker: this.options.workerId,
        policy: this.options.engine.retry,
        attemptTimeoutMs: this.options.engine.attemptTimeout,
        // Reads are not fenced (reverify-run.ts sends no write); the window only has to be open.
        lease: { deadline: monotonicMs() + this.options.engine.attemptTimeout + this.options.engine.lease, marginMs: 0 },
        mode: 'reverify',
        ...(provenAt ? { provenAt } : {}),
      },
      { recordAccount: () => Promise.resolve(false) },
    );
  }

  /** Held, drift or error, from the read-back's result. */
  private judge(gate: ProviderGate, task: Task, termination: Termination, result: AttemptResult, claims: number): ReverifyResult {
    const at = this.now();
    const outcome = result.outcome;
    if (outcome.state === 'succeeded') return { outcome: 'held', evidence: { readBack: outcome.evidence, at: at.toISOString() } };
    if (outcome.state === 'skipped') return { outcome: 'no_account', evidence: outcome.evidence };
    if (outcome.state !== 'failed') return { outcome: 'error', evidence: {}, retryAt: new Date(at.getTime() + ERROR_RETRY_MS) };
    if (outcome.error.kind === 'verification') {
      const evidence: JsonObject = {
        drift: outcome.error.message,
        observed: (outcome.evidence?.observed as JsonObject | undefined) ?? null,
        verifiedBefore: (task.evidence?.verify as JsonObject | undefined) ?? null,
        at: at.toISOString(),
      };
      // Never a destructive step: an account that came back after a delete may be a rehire's
      // new one, and deleting it again is a decision for a person, not a schedule.
      const remediate = this.options.remediate(termination.playbook) && !isDestructive(task.action);
      return {
        outcome: 'drift',
        evidence: { ...evidence, remediation: remediate },
        remediate,
        followUp: this.options.followUpOnDrift?.(task, termination, evidence) ?? [],
      };
    }
    if (result.rateLimitedForMs !== null) {
      gate.pause(result.rateLimitedForMs);
      this.options.live.pauseProvider(task.provider, result.rateLimitedForMs);
    }
    // A permanent error (credentials, permission) will not mend by itself: recorded now, and visible.
    const retryAt =
      outcome.error.kind === 'permanent'
        ? null
        : new Date(at.getTime() + (result.rateLimitedForMs ?? ERROR_RETRY_MS * Math.max(1, claims)));
    return { outcome: 'error', evidence: { error: outcome.error }, retryAt };
  }
}
