/**
 * The Reverifier (src/engine/reverifier.ts) on a real SQLite store, with a scripted attempt
 * runner that fails on any unexpected call: it waits while the engine runs anything at the
 * provider, keeps to its own concurrency, and reads a disagreeing read-back as drift.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { configSchema } from '../src/config/schema.ts';
import { RateLimitedError, VerificationError, errorKind } from '../src/domain/errors.ts';
import type { AttemptRequest, AttemptRunner } from '../src/engine/attempts.ts';
import { EngineEventBus } from '../src/engine/events.ts';
import { Reverifier } from '../src/engine/reverifier.ts';
import type { AttemptResult } from '../src/engine/runner.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import type { TestDatabase } from './store/backends.ts';
import { sqliteBackend } from './store/backends.ts';
import { newTask, newTermination } from './store/suite.ts';
import { waitFor } from './helpers/reliability.ts';

const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);
const HOUR = 3_600_000;
const config = configSchema.parse({
  store: { sqlite: { path: '/unused' } },
  providers: { okta: { kind: 'okta' } },
  playbooks: { employee: { steps: [{ id: 'disable', provider: 'okta', action: 'disable_account' }] } },
  defaultPlaybook: 'employee',
});

/** Read-backs answer in the order scripted; an unscripted call fails the test. */
function scriptedReadBacks(script: Array<Error | null>) {
  const requests: AttemptRequest[] = [];
  const runner: AttemptRunner = {
    run(request) {
      requests.push(request);
      const next = script.shift();
      if (next === undefined) throw new Error(`unexpected read-back of task ${request.task.id}`);
      const attempt = {
        taskId: request.task.id,
        attempt: 1,
        worker: request.worker,
        startedAt: new Date(),
        finishedAt: new Date(),
        outcome: next ? ('failed' as const) : ('succeeded' as const),
        errorKind: next ? errorKind(next) : null,
        errorMessage: next?.message ?? null,
        evidence: null,
      };
      const result: AttemptResult = next
        ? {
            outcome: {
              state: 'failed',
              error: { kind: errorKind(next), message: next.message },
              evidence: next instanceof VerificationError ? { observed: next.observed as never } : null,
            },
            attempt,
            rateLimitedForMs: next instanceof RateLimitedError ? next.retryAfterMs : null,
          }
        : {
            outcome: { state: 'succeeded', evidence: { verify: { status: 'SUSPENDED' } }, account: null },
            attempt,
            rateLimitedForMs: null,
          };
      return Promise.resolve(result);
    },
    leaseChanged: () => undefined,
    abort: () => undefined,
    close: () => Promise.resolve(),
  };
  return { runner, requests, left: () => script.length };
}

describe('Reverifier', () => {
  let now = T0;
  /** When set, the clock moves with real time from `now` (for waits a real timer ends). */
  let followedSince: number | null = null;
  const clock = () => new Date(followedSince === null ? now : now + Date.now() - followedSince);
  let db: TestDatabase;
  let idle = true;
  const paused: Array<[string, number]> = [];
  const events = new EngineEventBus();
  const seen: Array<{ outcome: string; remediating: boolean }> = [];
  events.on('task:reverified', (e) => seen.push({ outcome: e.outcome, remediating: e.remediating }));

  beforeEach(async () => {
    now = T0;
    followedSince = null;
    idle = true;
    paused.length = 0;
    seen.length = 0;
    db = await sqliteBackend.open(clock);
    db.store.setReverifySchedule(() => [HOUR]);
  });
  const started: Reverifier[] = [];
  afterEach(async () => {
    for (const r of started.splice(0)) await r.stop();
    vi.restoreAllMocks();
    await db?.dispose();
  });

  /** `n` completed terminations with one verified Okta task each, their re-verification due now. */
  async function completedTerminations(n: number): Promise<void> {
    await completedTerminationsDueLater(n);
    now += HOUR;
  }

  /** The same, with their re-verification due an hour from now. */
  async function completedTerminationsDueLater(n: number): Promise<void> {
    for (let i = 0; i < n; i += 1) await db.store.createTermination(newTermination(now), [newTask('disable')]);
    const tasks = await db.store.claimDueTasks({ worker: 'w', provider: 'okta', now: new Date(now), leaseMs: 60_000, limit: 100 });
    for (const task of tasks) {
      await db.store.finishAttempt(
        'w',
        task,
        { state: 'succeeded', evidence: { verify: { status: 'SUSPENDED' } }, account: { id: `00u${task.id}` } },
        {
          taskId: task.id,
          attempt: 1,
          worker: 'w',
          startedAt: new Date(now),
          finishedAt: new Date(now),
          outcome: 'succeeded',
          errorKind: null,
          errorMessage: null,
          evidence: null,
        },
      );
    }
  }

  function reverifier(runner: AttemptRunner, options: { remediate?: boolean; concurrency?: number; pollInterval?: number } = {}) {
    return new Reverifier({
      store: db.store,
      attempts: runner,
      providers: ['okta'],
      live: { providerIdle: () => idle, pauseProvider: (provider, ms) => paused.push([provider, ms]) },
      reverify: {
        ...config.reverify,
        concurrency: options.concurrency ?? 1,
        pollInterval: options.pollInterval ?? config.reverify.pollInterval,
      },
      engine: config.engine,
      remediate: () => options.remediate ?? false,
      followUpOnDrift: () => [],
      events,
      logger: silentLogger(),
      workerId: 'reverifier-test',
      now: clock,
    });
  }

  /** A started reverifier, with its store's claim transactions and due-time looks counted. */
  function startCounted(runner: AttemptRunner, options: { pollInterval?: number } = {}) {
    const claims = vi.spyOn(db.store, 'claimDueReverifications');
    const looks = vi.spyOn(db.store, 'nextReverificationAt');
    const r = reverifier(runner, options);
    started.push(r);
    r.start();
    return {
      r,
      claims: () => claims.mock.calls.length,
      looks: () => looks.mock.calls.length,
      /** Looks answered: the reverifier has decided how long to sleep. */
      looked: () => looks.mock.settledResults.length,
    };
  }

  it('judges the read-back against the start of the attempt that did the work, not its own start', async () => {
    await completedTerminations(1);
    const { runner, requests } = scriptedReadBacks([null]);
    const r = reverifier(runner);
    expect(await r.runDue()).toBe(1);
    await r.idle();
    // The revocation's attempt started at T0; the check runs an hour later. A read-back such as
    // "sessions valid from >= the attempt's start" must compare with T0, or it reads as drift.
    expect(requests.map((q) => [q.mode, q.provenAt?.getTime()])).toEqual([['reverify', T0]]);
    expect(seen).toEqual([{ outcome: 'held', remediating: false }]);
  });

  it('starts nothing while the engine runs anything at the provider', async () => {
    await completedTerminations(1);
    const { runner, requests } = scriptedReadBacks([]);
    idle = false;
    expect(await reverifier(runner).runDue()).toBe(0);
    expect(requests).toEqual([]);
    const [t] = (await db.store.listTerminations({ limit: 1 })).items;
    expect((await db.store.listReverifications(t!.id)).map((r) => r.state)).toEqual(['pending']);
  });

  it('keeps to its own concurrency, and sends read-backs only (mode reverify) against the task’s account', async () => {
    await completedTerminations(3);
    const { runner, requests } = scriptedReadBacks([null, null, null]);
    const r = reverifier(runner, { concurrency: 2 });
    expect(await r.runDue()).toBe(2);
    await r.idle();
    expect(requests.map((q) => q.mode)).toEqual(['reverify', 'reverify']);
    expect(requests.every((q) => (q.task.account as { id: string }).id.startsWith('00u'))).toBe(true);
    expect(seen).toEqual([
      { outcome: 'held', remediating: false },
      { outcome: 'held', remediating: false },
    ]);
    expect(await r.runDue()).toBe(1);
    await r.idle();
  });

  it('reads a disagreeing read-back as drift, remediated when the playbook says so', async () => {
    await completedTerminations(1);
    const { runner } = scriptedReadBacks([new VerificationError('user is ACTIVE, expected SUSPENDED', { status: 'ACTIVE' })]);
    const r = reverifier(runner, { remediate: true });
    await r.runDue();
    await r.idle();
    expect(seen).toEqual([{ outcome: 'drift', remediating: true }]);
    const [t] = (await db.store.listTerminations({ limit: 1 })).items;
    const [row] = await db.store.listReverifications(t!.id);
    expect(row).toMatchObject({ outcome: 'drift', evidence: { observed: { status: 'ACTIVE' }, verifiedBefore: { status: 'SUSPENDED' } } });
    expect((await db.store.listTasks(t!.id))[0]!.state).toBe('pending');
  });

  it('on a rate limit pauses the provider for live tasks too, and tries again after the wait', async () => {
    await completedTerminations(1);
    const { runner } = scriptedReadBacks([new RateLimitedError('slow down', 7_000)]);
    const r = reverifier(runner);
    await r.runDue();
    await r.idle();
    expect(paused).toEqual([['okta', 7_000]]);
    expect(seen).toEqual([]);
    const [t] = (await db.store.listTerminations({ limit: 1 })).items;
    expect((await db.store.listReverifications(t!.id)).map((x) => [x.state, x.dueAt.getTime()])).toEqual([['pending', now + 7_000]]);
  });

  it('never remediates a destructive step: drift after a delete is told, not deleted again', async () => {
    await db.store.createTermination(newTermination(now), [newTask('delete', { action: 'delete_account', critical: false })]);
    const [task] = await db.store.claimDueTasks({ worker: 'w', provider: 'okta', now: new Date(now), leaseMs: 60_000, limit: 1 });
    await db.store.finishAttempt(
      'w',
      task!,
      { state: 'succeeded', evidence: { verify: { found: false } }, account: { id: '00ugone' } },
      {
        taskId: task!.id,
        attempt: 1,
        worker: 'w',
        startedAt: new Date(now),
        finishedAt: new Date(now),
        outcome: 'succeeded',
        errorKind: null,
        errorMessage: null,
        evidence: null,
      },
    );
    now += HOUR;
    const { runner } = scriptedReadBacks([new VerificationError('the account exists again', { status: 'ACTIVE' })]);
    const r = reverifier(runner, { remediate: true });
    await r.runDue();
    await r.idle();
    expect(seen).toEqual([{ outcome: 'drift', remediating: false }]);
    expect((await db.store.getTask(task!.id))?.state).toBe('succeeded');
  });

  describe('looks for work only when something can be due', () => {
    it('opens no claim transaction while nothing is due, however often it looks', async () => {
      await completedTerminationsDueLater(3);
      const { runner } = scriptedReadBacks([]);
      const { claims, looks } = startCounted(runner, { pollInterval: 10 });
      // Store writes wake it as well: each may have scheduled a re-verification.
      await db.store.createTermination(newTermination(now), [newTask('other')]);
      await waitFor(async () => looks() >= 10, 'ten looks at the next due time');
      expect(claims()).toBe(0);
    });

    it('sleeps until the next due time, then claims without being woken', async () => {
      await completedTerminationsDueLater(1);
      followedSince = Date.now();
      // Due 300 ms from now, by the clock that follows real time.
      now += HOUR - 300;
      const { runner } = scriptedReadBacks([null]);
      const { claims } = startCounted(runner);
      await waitFor(async () => seen.length === 1, 'the read-back at its due time', 5_000);
      expect(seen).toEqual([{ outcome: 'held', remediating: false }]);
      expect(claims()).toBe(1);
    });

    it('a new schedule written while it sleeps is looked at within the wake debounce, not at the next poll', async () => {
      await completedTerminationsDueLater(1);
      const { runner } = scriptedReadBacks([null]);
      // The default poll (30 s) would be far too late.
      const { looked } = startCounted(runner);
      await waitFor(async () => looked() >= 1, 'the first look: nothing due for an hour');
      const [t] = (await db.store.listTerminations({ limit: 1 })).items;
      expect(await db.store.requestReverification(t!.id, 'operator:test')).toHaveLength(1);
      await waitFor(async () => seen.length === 1, 'the on-demand read-back', 5_000);
      expect(seen).toEqual([{ outcome: 'held', remediating: false }]);
    });

    it('takes over a claim whose lease expires while it sleeps (a crashed worker’s), without a poll', async () => {
      await completedTerminations(1);
      followedSince = Date.now();
      const [dead] = await db.store.claimDueReverifications({ worker: 'crashed', provider: 'okta', now: clock(), leaseMs: 300, limit: 1 });
      expect(dead).toBeDefined();
      const { runner } = scriptedReadBacks([null]);
      startCounted(runner);
      await waitFor(async () => seen.length === 1, 'the read-back once the lease expired', 5_000);
      const [row] = await db.store.listReverifications(dead!.reverification.terminationId);
      expect(row).toMatchObject({ state: 'done', outcome: 'held', claims: 2 });
    });
  });
});
