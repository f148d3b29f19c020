/**
 * The scheduler: claims due tasks with leases, hands them to the provider gates, and
 * records each attempt. It is woken by store writes (and PostgreSQL NOTIFY from other
 * replicas) and by a timer set to the earliest moment something becomes due, so no
 * polling interval sits between a termination's commit and its first request.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config, RetryPolicy } from '../config/schema.ts';
import { coerceError } from '../domain/errors.ts';
import type { Task, Termination } from '../domain/types.ts';
import { waitingFor } from '../domain/waiting.ts';
import type { LeaseRef, NewTask, TaskQueue } from '../store/store.ts';
import { AttemptDurations } from './attempt-durations.ts';
import type { AttemptRunner } from './attempts.ts';
import { CutFirst, HOLD_MAX_MS, criticalFirst } from './cut-first.ts';
import { monotonicMs } from './lease-fence.ts';
import type { EngineEventBus } from './events.ts';
import { ProviderGate } from './provider-gate.ts';

export interface EngineOptions {
  /** The store's task queue: the only part of the store the engine sees. */
  store: TaskQueue;
  /** One gate per provider, with its limits. */
  limits: ReadonlyMap<string, Config['providers'][string]['limits']>;
  /** Carries out the provider requests of each attempt (on this thread or a worker thread). */
  attempts: AttemptRunner;
  engine: Config['engine'];
  events: EngineEventBus;
  logger: Logger;
  now?: () => Date;
  /** Unique per process; defaults to host, pid and a random suffix. */
  workerId?: string;
  /** Tasks to add when a task fails for good (e.g. telling the security team); written with the failure. */
  followUpOnFailure?: (task: Task, termination: Termination, errorKind: string) => NewTask[];
  /** Tasks to add when a waiting step becomes overdue (its checkpoint's `overdue` turns true); written with it. */
  followUpOnOverdue?: (task: Task, termination: Termination, waitingFor: string | null) => NewTask[];
  /**
   * The brake's `organizationMembers`: an expansion finding more members holds its termination
   * for approval, and `notify` (the brake's notifier) is told. Default none.
   */
  organizationMembersBrake?: { threshold: number; notify: string | null };
  /** Longest a non-critical step waiting for another step is held while the cut runs (cut-first.ts). Default HOLD_MAX_MS. */
  cutHoldMaxMs?: number;
}

/** A safety net against a lost wake-up (clock jump, dropped NOTIFY); not on the hot path. */
const IDLE_RECHECK_MS = 30_000;
/** Pause before looking again at a task that is due but was not claimable in this pass. */
const DUE_RECHECK_MS = 5;

export class Engine {
  readonly workerId: string;
  private readonly gates = new Map<string, ProviderGate>();
  private readonly now: () => Date;
  private readonly shutdown = new AbortController();
  private running = false;
  private ticking = false;
  private tickAgain = false;
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private unsubscribe: Array<() => void> = [];
  private inFlight = new Set<Promise<void>>();
  /** Claims this worker holds: each task's token and, by this process's clock, until when. */
  private readonly leases = new Map<string, { claim: LeaseRef; deadline: number }>();
  private readonly durations = new AttemptDurations();
  private readonly cut: CutFirst;

  constructor(private readonly options: EngineOptions) {
    this.now = options.now ?? (() => new Date());
    this.cut = new CutFirst(options.cutHoldMaxMs ?? HOLD_MAX_MS);
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    for (const [name, limits] of options.limits) {
      this.gates.set(name, new ProviderGate(name, limits, () => this.wake()));
    }
  }

  /** Tasks claimed and not finished, per provider: the queue depth metric. */
  queueDepth(): Array<{ provider: string; depth: number }> {
    return [...this.gates.values()].map((g) => ({ provider: g.name, depth: g.depth }));
  }

  /**
   * True when the provider's gate runs nothing of this worker's and is not paused: the only
   * moment a re-verification may start there (reverifier.ts), so it never holds a slot a
   * live task could have had.
   */
  providerIdle(provider: string): boolean {
    const gate = this.gates.get(provider);
    return gate?.depth === 0 && gate.capacity() > 0;
  }

  /** A re-verification was told to slow down: live tasks at that provider wait as well. */
  pauseProvider(provider: string, retryAfterMs: number): void {
    this.gates.get(provider)?.pause(retryAfterMs);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe.push(this.options.store.onWake(() => this.wake()));
    const leaseMs = this.options.engine.lease;
    this.heartbeat = setInterval(() => void this.renewLeases(), Math.max(250, Math.floor(leaseMs / 3)));
    this.heartbeat.unref();
    this.wake();
  }

  /** Asks for a scheduling pass; passes never overlap, and a wake during one triggers another. */
  wake(): void {
    if (!this.running) return;
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    this.ticking = true;
    setImmediate(() => void this.tick());
  }

  private async tick(): Promise<void> {
    try {
      do {
        this.tickAgain = false;
        await this.claimAndDispatch();
        // A wake that arrived during this pass means the store changed: look again before sleeping.
        // (wake() sets tickAgain while the pass awaits; TypeScript's narrowing cannot see that.)
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
        if (!this.tickAgain) await this.armTimer();
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      } while (this.tickAgain && this.running);
    } catch (error) {
      this.options.logger.error({ err: coerceError(error) }, 'scheduling pass failed; retrying');
      this.armFallbackTimer(1000);
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Claims for every provider with room at once (on SQLite the claims share one commit, on
   * PostgreSQL they run on separate connections), reads their terminations in one query,
   * then starts the critical attempts first and each group longest first (cut-first.ts,
   * attempt-durations.ts).
   */
  private async claimAndDispatch(): Promise<void> {
    const now = this.now();
    // The lease runs from the claim; counting it from before the request is the safe side.
    const sentAt = monotonicMs();
    const claimed = await Promise.all(
      [...this.gates].map(async ([name, gate]) => {
        const capacity = gate.capacity();
        if (capacity === 0 || !this.running) return [];
        const tasks = await this.options.store.claimDueTasks({
          worker: this.workerId,
          provider: name,
          now,
          leaseMs: this.options.engine.lease,
          limit: capacity,
        });
        return tasks.map((task) => ({ gate, task }));
      }),
    );
    const batch = claimed.flat();
    if (batch.length === 0) return;
    const terminations = await this.options.store.getTerminations([...new Set(batch.map(({ task }) => task.terminationId))]);
    for (const { gate, task } of criticalFirst(this.durations.longestFirst(batch))) {
      this.leases.set(task.id, { claim: task, deadline: sentAt + this.options.engine.lease });
      this.dispatch(gate, task, terminations.get(task.terminationId));
    }
  }

  private dispatch(gate: ProviderGate, task: Task, termination: Termination | undefined): void {
    const run = () => gate.run(task.id, () => this.execute(gate, task, termination), task.critical);
    let work: Promise<void>;
    if (task.critical) {
      this.cut.criticalStarted();
      work = run().finally(() => this.cut.criticalFinished());
    } else {
      // Held while the cut runs when it waits for another step; dropped (false) on shutdown, its lease given back there.
      const held = this.cut.admit(task);
      work = held ? held.then((admitted) => (admitted ? run() : undefined)) : run();
    }
    const tracked = work
      .catch((error: unknown) => {
        this.options.logger.error({ err: coerceError(error), taskId: task.id }, 'task attempt crashed');
      })
      .finally(() => {
        // Only this claim's entry: the task may have been claimed again since.
        if (this.leases.get(task.id)?.claim === task) this.leases.delete(task.id);
      });
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  /** `termination` as read with the claim: what the attempt uses of it (id, subject, playbook) never changes. */
  private async execute(gate: ProviderGate, task: Task, termination: Termination | undefined): Promise<void> {
    const { store, events } = this.options;
    if (!termination) throw new Error(`task ${task.id} refers to a missing termination`);
    if (this.shutdown.signal.aborted) return;
    const started = Date.now();
    const policy = this.options.engine.retry;
    if (task.attempts > policy.maxAttempts) return this.failCrashed(task, termination, policy);
    events.emit('task:started', {
      terminationId: task.terminationId,
      taskId: task.id,
      provider: task.provider,
      action: task.action,
      attempt: task.attempts,
    });
    const result = await this.options.attempts.run(
      {
        task,
        termination,
        worker: this.workerId,
        policy,
        attemptTimeoutMs: this.options.engine.attemptTimeout,
        lease: { deadline: this.leases.get(task.id)?.deadline ?? 0, marginMs: this.leaseMargin() },
      },
      { recordAccount: (account) => store.recordAccount(task, account) },
    );
    if (result.outcome.state === 'succeeded') this.durations.record(task.provider, task.action, Date.now() - started);
    if (result.rateLimitedForMs !== null) {
      gate.pause(result.rateLimitedForMs);
      events.emit('provider:rate_limited', { provider: task.provider, retryAfterMs: result.rateLimitedForMs });
    }
    const outcome = result.outcome;
    if (outcome.state === 'failed' && this.options.followUpOnFailure) {
      outcome.followUp = this.options.followUpOnFailure(task, termination, outcome.error.kind);
    }
    // Once per crossing: the previous checkpoint was not overdue, this one is.
    if (outcome.state === 'pending' && outcome.checkpoint?.overdue === true && task.checkpoint?.overdue !== true) {
      const waiting = waitingFor(outcome.checkpoint);
      outcome.becameOverdue = { waitingFor: waiting };
      if (this.options.followUpOnOverdue) outcome.followUp = this.options.followUpOnOverdue(task, termination, waiting);
    }
    const brake = this.options.organizationMembersBrake;
    if (outcome.state === 'succeeded' && outcome.expansion && brake && outcome.expansion.members.length > brake.threshold) {
      outcome.expansion.holdForApproval = { threshold: brake.threshold, notifyProvider: brake.notify };
    }
    const applied = await store.finishAttempt(this.workerId, task, outcome, result.attempt);
    if (!applied) {
      this.options.logger.warn(
        { taskId: task.id, provider: task.provider, action: task.action, outcome: outcome.state },
        "result discarded: this worker no longer held the task's lease",
      );
    }
    events.emit('task:finished', {
      terminationId: task.terminationId,
      taskId: task.id,
      provider: task.provider,
      action: task.action,
      state: outcome.state,
      retry: outcome.state !== 'pending' ? null : outcome.rateLimited ? 'rate_limited' : outcome.error ? 'error' : 'in_progress',
      errorKind: result.attempt.errorKind,
      durationMs: Date.now() - started,
      applied,
    });
  }

  private async armTimer(): Promise<void> {
    if (!this.running) return;
    // Only providers with room can take more work; full or paused gates wake us when they free up.
    const open = [...this.gates.values()].filter((g) => g.capacity() > 0).map((g) => g.name);
    const next = open.length > 0 ? await this.options.store.nextWakeAt(open) : null;
    if (!next) return this.armFallbackTimer(IDLE_RECHECK_MS);
    const delay = next.getTime() - this.now().getTime();
    // Already due (it became due during this pass, or another replica holds its row lock): look again shortly.
    this.armFallbackTimer(delay > 0 ? Math.min(delay, IDLE_RECHECK_MS) : DUE_RECHECK_MS);
  }

  private armFallbackTimer(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.wake();
    }, delayMs);
    this.timer.unref();
  }

  private leaseMargin(): number {
    return this.options.engine.leaseMargin ?? Math.floor(this.options.engine.lease / 3);
  }

  /**
   * The heartbeat. Renewed leases move their deadline (counted from when the renewal was
   * sent); a lease the store no longer gives this worker is gone, and its attempt stops
   * before its next provider request. A failed renewal changes nothing: the deadline comes
   * closer and the fence stops the attempt in time.
   */
  private async renewLeases(): Promise<void> {
    const held = [...this.leases.values()];
    if (held.length === 0) return;
    const sentAt = monotonicMs();
    let renewed: Set<string>;
    let busy: Set<string>;
    try {
      const found = await this.options.store.renewLeases(
        this.workerId,
        held.map((lease) => lease.claim),
        this.options.engine.lease,
      );
      renewed = new Set(found.renewed);
      busy = new Set(found.busy);
    } catch (error) {
      this.options.logger.warn({ err: coerceError(error) }, 'lease renewal failed');
      return;
    }
    for (const lease of held) {
      const id = lease.claim.id;
      // Finished meanwhile, or claimed again: this renewal's answer is not about it.
      if (this.leases.get(id) !== lease) continue;
      if (renewed.has(id)) {
        lease.deadline = sentAt + this.options.engine.lease;
        this.options.attempts.leaseChanged(id, lease.deadline);
      } else if (busy.has(id)) {
        // Still ours, its row locked by another transaction: the next heartbeat tries again,
        // and the fence stops the attempt if the lease runs short before one succeeds.
        continue;
      } else {
        this.leases.delete(id);
        this.options.attempts.leaseChanged(id, null);
        this.options.logger.warn(
          { taskId: id },
          'lease lost: another worker holds the task now; its attempt here stops before its next provider request',
        );
        this.options.events.emit('task:lease_lost', { taskId: id });
      }
    }
  }

  /**
   * A task claimed more times than it has attempts: every earlier claim ended without a
   * result (the worker crashed, froze, or lost the database). It fails for good instead of
   * being claimed forever, so one poisoned task cannot take turns from the rest.
   */
  private async failCrashed(task: Task, termination: Termination, policy: RetryPolicy): Promise<void> {
    const at = this.now();
    const error = {
      kind: 'crashed',
      message: `${policy.maxAttempts} attempts ended without a result (the worker crashed, froze past its lease or lost the store); not tried again. Find the cause in the logs of worker ${task.leaseOwner ?? 'unknown'} before a replay`,
    };
    const outcome = {
      state: 'failed' as const,
      error,
      ...(this.options.followUpOnFailure ? { followUp: this.options.followUpOnFailure(task, termination, error.kind) } : {}),
    };
    const applied = await this.options.store.finishAttempt(this.workerId, task, outcome, {
      taskId: task.id,
      attempt: task.attempts,
      worker: this.workerId,
      startedAt: at,
      finishedAt: at,
      outcome: 'failed',
      errorKind: error.kind,
      errorMessage: error.message,
      evidence: null,
    });
    this.options.logger.error(
      { taskId: task.id, provider: task.provider, action: task.action },
      'task failed: its attempts kept ending without a result',
    );
    this.options.events.emit('task:finished', {
      terminationId: task.terminationId,
      taskId: task.id,
      provider: task.provider,
      action: task.action,
      state: 'failed',
      retry: null,
      errorKind: error.kind,
      durationMs: 0,
      applied,
    });
  }

  /**
   * Stops claiming, lets in-flight attempts finish within the grace period, then aborts
   * the rest and releases their leases so another worker can take them at once.
   */
  async stop(graceMs = this.options.engine.shutdownGrace): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    if (this.timer) clearTimeout(this.timer);
    // Steps held for the cut have not started: back to the queue at once, no attempt used.
    const unstarted = this.cut.drop();
    for (const task of unstarted) this.leases.delete(task.id);
    if (unstarted.length > 0) await this.options.store.releaseTasks(this.workerId, unstarted);
    const drained = Promise.all([...this.gates.values()].map((g) => g.drained()));
    const graceOver = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    const result = await Promise.race([drained.then(() => 'drained' as const), graceOver]);
    if (result === 'timeout') {
      const leftover = [...this.leases.values()].map((lease) => lease.claim);
      // Aborted attempts end at once; queued ones see the signal and return without running.
      this.shutdown.abort(new Error('shutdown'));
      this.options.attempts.abort();
      await this.options.store.releaseTasks(this.workerId, leftover);
      this.options.logger.warn({ released: leftover.length }, 'shutdown grace over: released unfinished tasks');
      await drained;
    }
    await Promise.allSettled([...this.inFlight]);
    for (const gate of this.gates.values()) gate.close();
    if (this.heartbeat) clearInterval(this.heartbeat);
  }
}
