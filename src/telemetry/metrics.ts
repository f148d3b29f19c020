/**
 * Prometheus metrics, fed by engine events (counters, histograms) and by the store at
 * scrape time (gauges), so every replica reports the shared queue the same way.
 * Labels are bounded: provider instance names, action names, fixed outcome words.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EngineEventBus } from '../engine/events.ts';
import type { Store, StoreStats } from '../store/store.ts';

export interface MetricsSources {
  events: EngineEventBus;
  store: Store;
  queueDepth: () => Array<{ provider: string; depth: number }>;
  now?: () => Date;
  /** Provider instances and the actions re-verified there: their drift counters start at 0. */
  providers?: ReadonlyArray<{ name: string; actions: readonly string[] }>;
}

/** Scrapes within this window share one read of the store. */
const STATS_CACHE_MS = 1000;

export function createMetrics(sources: MetricsSources): Registry {
  const registry = new Registry();
  // prom-client's default names already start with process_ or nodejs_: the prefix only adds ours.
  collectDefaultMetrics({ register: registry, prefix: 'deprovisiond_' });
  const now = sources.now ?? (() => new Date());

  const received = new Counter({
    name: 'deprovisiond_terminations_received_total',
    help: 'Termination requests received, by source; duplicate="true" for a true repeat (same source event id and body) answered from the store.',
    labelNames: ['source', 'duplicate'],
    registers: [registry],
  });
  const finished = new Counter({
    name: 'deprovisiond_tasks_finished_total',
    help: 'Tasks that reached a final state, by provider, action and outcome (succeeded, failed, skipped).',
    labelNames: ['provider', 'action', 'outcome'],
    registers: [registry],
  });
  const retried = new Counter({
    name: 'deprovisiond_task_retries_total',
    help: 'Attempts that sent a task back to the queue, by reason (error, rate_limited, in_progress).',
    labelNames: ['provider', 'action', 'reason'],
    registers: [registry],
  });
  const verificationFailures = new Counter({
    name: 'deprovisiond_verification_failures_total',
    help: 'Attempts whose read-back disagreed with the write (the provider said yes, the state says no).',
    labelNames: ['provider', 'action'],
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'deprovisiond_provider_rate_limited_total',
    help: 'Rate-limit answers received from a provider.',
    labelNames: ['provider'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'deprovisiond_task_attempt_duration_seconds',
    help: 'Duration of one task attempt (resolve, execute, verify).',
    labelNames: ['provider', 'action'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const timeToRevoke = new Histogram({
    name: 'deprovisiond_time_to_revoke_seconds',
    help: 'From effective time (or receipt, if later) until the last critical task of a termination was verified.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
    registers: [registry],
  });

  const attemptThreadRestarts = new Counter({
    name: 'deprovisiond_attempt_thread_restarts_total',
    help: 'Times the attempt worker thread ended unexpectedly (a crash, or its heap cap) and a new one was started; its attempts in flight failed and are retried.',
    registers: [registry],
  });

  const discarded = new Counter({
    name: 'deprovisiond_task_results_discarded_total',
    help: "Attempt results the store refused because this worker no longer held the task's lease (it froze or stalled past the lease and another worker took the task over). Should stay at 0 on a healthy replica.",
    labelNames: ['provider', 'action'],
    registers: [registry],
  });
  const leasesLost = new Counter({
    name: 'deprovisiond_leases_lost_total',
    help: 'Leases a heartbeat found held by another worker; the attempt here stopped before its next provider request.',
    registers: [registry],
  });
  const crashed = new Counter({
    name: 'deprovisiond_tasks_crashed_total',
    help: 'Tasks failed for good because every attempt ended without a result (worker crash, freeze past the lease, lost store).',
    labelNames: ['provider', 'action'],
    registers: [registry],
  });

  const reverified = new Counter({
    name: 'deprovisiond_reverifications_total',
    help: 'Re-verifications of completed terminations, by result: held (access still gone), drift (access back), error (no read-back could be made), no_account.',
    labelNames: ['provider', 'action', 'outcome'],
    registers: [registry],
  });
  const drift = new Counter({
    name: 'deprovisiond_drift_total',
    help: 'Re-verifications that found a revoked access back (an account enabled again, a group re-added). Alert on any increase.',
    labelNames: ['provider', 'action'],
    registers: [registry],
  });
  // Zero series from the start, so an alert on increase() fires on the first drift of a provider.
  for (const provider of sources.providers ?? []) {
    for (const action of provider.actions) drift.inc({ provider: provider.name, action }, 0);
  }

  sources.events.on('task:lease_lost', () => leasesLost.inc());
  sources.events.on('task:reverified', (e) => {
    reverified.inc({ provider: e.provider, action: e.action, outcome: e.outcome });
    if (e.outcome === 'drift') drift.inc({ provider: e.provider, action: e.action });
  });
  sources.events.on('termination:received', (e) => received.inc({ source: e.source, duplicate: String(e.duplicate) }));
  sources.events.on('provider:rate_limited', (e) => rateLimited.inc({ provider: e.provider }));
  sources.events.on('attempt_thread:exited', () => attemptThreadRestarts.inc());
  sources.events.on('task:finished', (e) => {
    duration.observe({ provider: e.provider, action: e.action }, e.durationMs / 1000);
    if (e.errorKind === 'verification') verificationFailures.inc({ provider: e.provider, action: e.action });
    if (!e.applied) return discarded.inc({ provider: e.provider, action: e.action });
    if (e.errorKind === 'crashed') crashed.inc({ provider: e.provider, action: e.action });
    if (e.state === 'pending') retried.inc({ provider: e.provider, action: e.action, reason: e.retry ?? 'error' });
    else finished.inc({ provider: e.provider, action: e.action, outcome: e.state });
  });
  sources.store.onTerminationRevoked((e) => timeToRevoke.observe(e.timeToRevokeMs / 1000));

  let cached: { at: number; stats: Promise<StoreStats> } | null = null;
  const stats = () => {
    const t = Date.now();
    if (!cached || t - cached.at > STATS_CACHE_MS) cached = { at: t, stats: sources.store.stats(now()) };
    return cached.stats;
  };

  new Gauge({
    name: 'deprovisiond_tasks',
    help: 'Tasks in the store by provider, action and state.',
    labelNames: ['provider', 'action', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of (await stats()).tasks) this.set({ provider: row.provider, action: row.action, state: row.state }, row.count);
    },
  });
  new Gauge({
    name: 'deprovisiond_pending_tasks',
    help: 'Tasks not yet finished (pending or running), across replicas.',
    registers: [registry],
    async collect() {
      this.set((await stats()).tasks.filter((t) => t.state === 'pending' || t.state === 'running').reduce((n, t) => n + t.count, 0));
    },
  });
  new Gauge({
    name: 'deprovisiond_failed_unresolved_tasks',
    help: "Tasks that ended failed and have not been replayed, waived or cancelled: each is a door still open, whatever its termination's state.",
    registers: [registry],
    async collect() {
      this.set((await stats()).tasks.filter((t) => t.state === 'failed').reduce((n, t) => n + t.count, 0));
    },
  });
  new Gauge({
    name: 'deprovisiond_oldest_pending_task_age_seconds',
    help: 'Age of the oldest task that is due and runnable but not claimed: stuck work shows here.',
    registers: [registry],
    async collect() {
      this.set((await stats()).oldestDueTaskAgeSeconds);
    },
  });
  new Gauge({
    name: 'deprovisiond_manual_tasks_pending',
    help: 'Manual checklist steps that are due and wait for a person.',
    registers: [registry],
    async collect() {
      this.set((await stats()).manualPending);
    },
  });
  new Gauge({
    name: 'deprovisiond_manual_tasks_overdue',
    help: 'Manual checklist steps past their dueWithin: a person has not done them in time.',
    registers: [registry],
    async collect() {
      this.set((await stats()).manualOverdue);
    },
  });
  new Gauge({
    name: 'deprovisiond_legal_holds_active',
    help: 'Legal holds in force: each keeps destructive steps (and erasure) of its subject or termination from running.',
    registers: [registry],
    async collect() {
      this.set((await stats()).legalHoldsActive);
    },
  });
  new Gauge({
    name: 'deprovisiond_tasks_held_by_legal_hold',
    help: 'Destructive steps (delete_account) waiting because a legal hold covers their subject or termination.',
    labelNames: ['provider', 'action'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of (await stats()).heldByLegalHold) this.set({ provider: row.provider, action: row.action }, row.count);
    },
  });
  new Gauge({
    // One name for every provider whose steps can wait on something owed (not one per vendor):
    // today Stripe's settle_billing, invoices still open past the step's overdueAfter.
    name: 'deprovisiond_tasks_overdue',
    help: 'Pending steps their adapter reports overdue (money still owed past the agreed deadline), per provider and action.',
    labelNames: ['provider', 'action'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of (await stats()).waitingOverdue) this.set({ provider: row.provider, action: row.action }, row.count);
    },
  });
  new Gauge({
    name: 'deprovisiond_terminations',
    help: 'Terminations in the store by state.',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of (await stats()).terminations) this.set({ state: row.state }, row.count);
    },
  });
  new Gauge({
    name: 'deprovisiond_queue_depth',
    help: 'Tasks claimed by this replica and not yet finished, per provider.',
    labelNames: ['provider'],
    registers: [registry],
    collect() {
      this.reset();
      for (const q of sources.queueDepth()) this.set({ provider: q.provider }, q.depth);
    },
  });
  return registry;
}
