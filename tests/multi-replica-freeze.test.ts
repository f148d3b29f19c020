/**
 * A frozen peer (issue 33): three `deprovisiond serve` replicas on one PostgreSQL schema,
 * a 10 s lease, the real Okta, Google and Graph adapters against sandboxes (their own
 * process) that log every effective write with its time. Three rounds of terminations,
 * each with one fault on one replica, each ending when every task settled:
 *
 *   between  SIGSTOP while it holds leases and none of its backends is in a transaction,
 *            for 3x the lease (and until the others took its tasks over), then SIGCONT;
 *   inside   SIGSTOP while one of its backends is `idle in transaction` holding locks
 *            (an advisory lock first: today the audit chain's), found through
 *            pg_stat_activity and pg_locks, for 6 s, then SIGCONT;
 *   kill     SIGKILL while it holds leases.
 *
 * Judged from the sandboxes' write logs, task_attempts and the audit log: no write repeated
 * after its task was recorded succeeded, no non-idempotent write repeated at all (the kill
 * may repeat idempotent revocations only), no two attempts of one task overlapping in
 * time, no task lost, no healthy replica's result discarded, no task record contradicting
 * the provider, and while one replica is frozen inside a transaction the others settle at
 * least half as many tasks per second as all three did just before. Every figure is
 * printed as a table first; failures are soft so one run reports them all.
 *
 * Run policy: tests/helpers/postgres.ts (CI without TEST_DATABASE_URL fails, never skips).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  auditWrites,
  discardedResults,
  overlappingAttempts,
  sandboxWriteLog,
  type AttemptRow,
  type TaskRow,
} from './helpers/replica-accounting.ts';
import {
  BACKLOG_SQL,
  freezeBetweenTransactions,
  freezeInsideTransaction,
  settledBetween,
  startCluster,
  scrapeCounter,
  startFeeder,
  waitAllSettled,
  type Cluster,
  type Replica,
} from './helpers/replica-cluster.ts';
import { FREEZE_RUN_STEPS } from './helpers/freeze-run-playbook.ts';
import { describePostgres, newSchemaName, pgAdmin, sleep, waitFor } from './helpers/reliability.ts';

/**
 * Above what a peer frozen inside a transaction can hold a row for: PostgreSQL ends that
 * session after idle_in_transaction_session_timeout (5 s), and until then no heartbeat can
 * extend a lease on a row it locked (the heartbeat skips it as busy). A lease renewed every
 * third of itself survives that when two thirds of it exceed 5 s, as production's 30 s does;
 * at 2 s a healthy replica's lease lapsed behind the frozen lock and its result was
 * discarded (1 CI run in 3).
 */
const LEASE_MS = 10_000;
const REPLICAS = 3;
/** Terminations per round, at most: 7 tasks each. */
const ROUND_TERMINATIONS = 100;
/**
 * The inside round feeds until the frozen replica resumes, so that work is still queued at
 * the end of the freeze however fast the machine settles it (a fixed 200 drained before the
 * freeze ended on a quiet CI host); this only bounds it.
 */
const INSIDE_ROUND_TERMINATIONS = 600;
/** Tasks kept queued while a round's fault is on, so settled-per-second measures the replicas. */
const BACKLOG_TASKS = 300;
const FREEZE_BETWEEN_MS = 3 * LEASE_MS;
const FREEZE_INSIDE_MS = 6_000;
/** The window before the inside freeze whose rate the freeze is compared with. */
const BEFORE_WINDOW_MS = 6_000;
const ROUND_DEADLINE_MS = 75_000;
/**
 * Results the store refused, counted by each replica (asked of the lead in issue 33). Until
 * a replica exports it, the audit log is the only witness (discardedResults).
 */
const DISCARDED_METRIC = 'deprovisiond_task_results_discarded_total';

type RoundName = 'between' | 'inside' | 'kill';

interface Round {
  name: RoundName;
  victim: Replica;
  terminations: string[];
  /** What the fault caught, in words. */
  fault: string;
  faultAt: number;
  /** SIGCONT (a freeze) or null (the kill). */
  resumedAt: number | null;
  /** Why the round's tasks did not all settle by its deadline; null when they did. */
  settleError: string | null;
  /** Increase of DISCARDED_METRIC over the round by each replica still answering at its end; null where not exported. */
  discardedByMetric: Map<Replica, number | null>;
  /** The inside round: tasks settled per second before and during the freeze. */
  ratePerSecond?: { before: number; during: number; backlogAtResume: number; othersBlockedOnLocks: number };
}

describePostgres('replicas with a frozen peer', (databaseUrl) => {
  const schema = newSchemaName('replica_freeze');
  let cluster: Cluster | undefined;

  beforeAll(async () => {
    // One clear cause when the database is down.
    await (await pgAdmin(databaseUrl)).end();
    cluster = await startCluster({ databaseUrl, schema, replicas: REPLICAS, leaseMs: LEASE_MS, steps: FREEZE_RUN_STEPS });
  }, 90_000);

  afterAll(async () => {
    await cluster?.close();
  }, 30_000);

  it(
    'loses nothing, repeats no non-idempotent write and keeps going when one replica is stopped between transactions, inside one, or killed',
    async () => {
      const c = cluster!;
      const run = randomBytes(3).toString('hex');
      const [first, second, third] = c.replicas as [Replica, Replica, Replica];
      const alive = new Set(c.replicas);
      const rounds: Round[] = [];

      /** One round: keep work queued through the healthy replicas, strike `victim` once some settled, then let everything settle. */
      const round = async (name: RoundName, victim: Replica, strike: (r: Round, roundStart: number) => Promise<void>) => {
        const metricBefore = new Map(
          await Promise.all([...alive].map(async (x) => [x, await scrapeCounter(x, DISCARDED_METRIC)] as const)),
        );
        const roundStart = Date.now();
        const deadline = roundStart + ROUND_DEADLINE_MS;
        const r: Round = {
          name,
          victim,
          terminations: [],
          fault: '',
          faultAt: 0,
          resumedAt: null,
          settleError: null,
          discardedByMetric: new Map(),
        };
        const feeder = startFeeder(c, {
          prefix: `${name}-${run}`,
          via: () => [...alive].filter((x) => x !== victim),
          backlogTasks: BACKLOG_TASKS,
          tasksPerTermination: FREEZE_RUN_STEPS.length,
          // The inside round measures throughput before and during the freeze: work must last past it.
          maxTerminations: name === 'inside' ? INSIDE_ROUND_TERMINATIONS : ROUND_TERMINATIONS,
          ...(name === 'inside' ? { until: () => r.resumedAt !== null } : {}),
          deadline,
        });
        r.terminations = feeder.submitted;
        rounds.push(r);
        try {
          await strike(r, roundStart);
        } catch (error) {
          await feeder.stop().catch(() => undefined);
          throw error;
        } finally {
          // A failed strike must not leave a replica stopped.
          if (name !== 'kill') victim.child.kill('SIGCONT');
        }
        // The rest of the round's terminations, then everything settles.
        await feeder.done();
        try {
          await waitAllSettled(c, deadline, `round ${name}`);
        } catch (error) {
          r.settleError = (error as Error).message;
        }
        for (const x of alive) {
          const [from, to] = [metricBefore.get(x), await scrapeCounter(x, DISCARDED_METRIC)];
          r.discardedByMetric.set(x, to === null || from === null || from === undefined ? null : to - from);
        }
      };
      const holdsLeasesAfterSomeSettled = (victim: Replica, since: number) =>
        waitFor(
          async () =>
            (await settledBetween(c, since, Date.now() + 1)) >= 30 &&
            (await c.count(`select count(*) as n from tasks where state = 'running' and lease_owner = $1`, [victim.worker])) > 0,
          `${victim.name} holding leases after 30 tasks settled`,
          30_000,
        );

      // 1. Stopped between transactions: blocks no one in PostgreSQL; its leases lapse and
      //    are taken over; when resumed it must not send the writes it was about to send.
      await round('between', first, async (r, roundStart) => {
        await holdsLeasesAfterSomeSettled(first, roundStart);
        const { heldLeases, tries } = await freezeBetweenTransactions(c, first, 30_000);
        r.faultAt = Date.now();
        r.fault = `SIGSTOP between transactions holding ${heldLeases.length} lease(s) (${tries} tr${tries === 1 ? 'y' : 'ies'})`;
        // The fault lasts 3x the lease and until the others have taken its tasks over (or settled them).
        await waitFor(
          async () =>
            Date.now() - r.faultAt >= FREEZE_BETWEEN_MS &&
            (await c.count(`select count(*) as n from tasks where id = any($1) and lease_owner = $2`, [heldLeases, first.worker])) === 0,
          `${first.name}'s leases taken over`,
          FREEZE_BETWEEN_MS + 20_000,
        );
        first.child.kill('SIGCONT');
        r.resumedAt = Date.now();
      });

      // 2. Stopped inside a transaction, for 6 s: the others must keep settling work.
      await round('inside', second, async (r, roundStart) => {
        await holdsLeasesAfterSomeSettled(second, roundStart);
        // A full before-window of steady work.
        await waitFor(async () => Date.now() - roundStart >= BEFORE_WINDOW_MS + 1_000, 'the before-window', BEFORE_WINDOW_MS + 2_000);
        const backend = await freezeInsideTransaction(c.db, second, { preferAdvisoryMs: 10_000, timeoutMs: 30_000 });
        r.faultAt = Date.now();
        r.fault =
          `SIGSTOP inside a transaction: backend ${backend.pid} idle in transaction holding ${backend.locks} lock(s)` +
          `${backend.advisory ? ' incl. an advisory lock' : ''} after "${backend.query.replace(/\s+/g, ' ').slice(0, 80)}" (${backend.tries} tr${backend.tries === 1 ? 'y' : 'ies'})`;
        // The 6 s are the fault itself; meanwhile, how many of the others' sessions wait on a lock.
        let othersBlockedOnLocks = 0;
        while (Date.now() - r.faultAt < FREEZE_INSIDE_MS) {
          const { rows } = await c.db.query<{ n: string }>(
            `select count(*) as n from pg_stat_activity where application_name like 'deprovisiond-replica-%' and application_name <> $1 and wait_event_type = 'Lock'`,
            [second.appName],
          );
          othersBlockedOnLocks = Math.max(othersBlockedOnLocks, Number(rows[0]?.n ?? 0));
          await sleep(200);
        }
        const backlogAtResume = await c.count(BACKLOG_SQL);
        second.child.kill('SIGCONT');
        r.resumedAt = Date.now();
        const before = (await settledBetween(c, r.faultAt - BEFORE_WINDOW_MS, r.faultAt)) / (BEFORE_WINDOW_MS / 1000);
        const during = (await settledBetween(c, r.faultAt, r.resumedAt)) / ((r.resumedAt - r.faultAt) / 1000);
        r.ratePerSecond = { before, during, backlogAtResume, othersBlockedOnLocks };
      });

      // 3. Killed: its tasks run again elsewhere; only idempotent revocations may repeat.
      await round('kill', third, async (r, roundStart) => {
        await holdsLeasesAfterSomeSettled(third, roundStart);
        const held = await c.count(`select count(*) as n from tasks where state = 'running' and lease_owner = $1`, [third.worker]);
        third.child.kill('SIGKILL');
        r.faultAt = Date.now();
        expect(await third.exited).toBe('SIGKILL');
        alive.delete(third);
        r.fault = `SIGKILL holding ${held} lease(s)`;
      });

      // What happened, from the store and the sandboxes.
      // Accounts are sealed at rest (docs/privacy.md): opened with the replicas' keys.
      const tasks = (await c.sealed()).withAccounts(
        (await c.db.query<TaskRow>(`select id, termination_id, step_id, state, account, finished_at from tasks`)).rows,
      );
      const { rows: attempts } = await c.db.query<AttemptRow>(
        `select id, task_id, worker, outcome, started_at, finished_at from task_attempts`,
      );
      const { rows: terminations } = await c.db.query<{ id: string; state: string }>(`select id, state from terminations`);
      const logs = {
        okta: await sandboxWriteLog(c.sandboxes.sandboxes.okta!.url),
        google: await sandboxWriteLog(c.sandboxes.sandboxes.google!.url),
        microsoft: await sandboxWriteLog(c.sandboxes.sandboxes.microsoft!.url),
      };
      const writes = auditWrites(FREEZE_RUN_STEPS, tasks, logs);
      const overlaps = overlappingAttempts(attempts);
      const discarded = await discardedResults(c.db);

      const roundOfTermination = new Map(rounds.flatMap((r) => r.terminations.map((id) => [id, r] as const)));
      const taskById = new Map(tasks.map((t) => [t.id, t]));
      const roundOfTask = (taskId: string) => roundOfTermination.get(taskById.get(taskId)?.termination_id ?? '');
      const rows = rounds.map((r) => {
        const mine = (taskId: string) => roundOfTask(taskId) === r;
        const repeats = writes.repeated.filter((w) => mine(w.taskId));
        const sum = (list: typeof repeats) => list.reduce((n, w) => n + w.extra, 0);
        const ownTasks = tasks.filter((t) => mine(t.id));
        const discardedHere = discarded.filter((a) => mine(a.task_id));
        return {
          round: r,
          terminations: r.terminations.length,
          tasks: ownTasks.length,
          unsettled: ownTasks.filter((t) => t.state === 'pending' || t.state === 'running').length,
          notSucceeded: ownTasks.filter((t) => t.state !== 'succeeded').map((t) => `${t.step_id}:${t.state}`),
          idempotentRepeats: sum(repeats.filter((w) => w.idempotent)),
          nonIdempotentRepeats: sum(repeats.filter((w) => !w.idempotent)),
          nonIdempotentByOperation: byOperation(repeats.filter((w) => !w.idempotent)),
          nonIdempotent: repeats.filter((w) => !w.idempotent),
          afterSucceeded: repeats.reduce((n, w) => n + w.afterSucceeded, 0),
          repeatsByOperation: byOperation(repeats),
          overlaps: overlaps.filter((o) => mine(o.taskId)),
          discardedHealthy: discardedHere.filter((a) => a.worker !== r.victim.worker).length,
          discardedVictim: discardedHere.filter((a) => a.worker === r.victim.worker).length,
          /** null: no replica exports the metric. */
          discardedHealthyByMetric: [...r.discardedByMetric].some(([, n]) => n !== null)
            ? [...r.discardedByMetric].filter(([x]) => x !== r.victim).reduce((sum, [, n]) => sum + (n ?? 0), 0)
            : null,
          contradictions: writes.contradictions.filter((x) => mine(x.taskId)).map((x) => x.detail),
          contradictingTasks: new Set(writes.contradictions.filter((x) => mine(x.taskId)).map((x) => x.taskId)).size,
        };
      });
      const fmt = (n: number) => n.toFixed(1);
      console.log(
        [
          `multi-replica-freeze: ${REPLICAS} replicas, lease ${LEASE_MS} ms, ${FREEZE_RUN_STEPS.length} tasks per termination, run ${run}`,
          '| round | fault | terminations / tasks | unsettled | repeated writes: idempotent / non-idempotent / after succeeded | attempts overlapping | results discarded: healthy / frozen | task records contradicting provider |',
          '| --- | --- | --- | --- | --- | --- | --- | --- |',
          ...rows.map(
            (x) =>
              `| ${x.round.name} (${x.round.victim.name}) | ${x.round.fault} | ${x.terminations} / ${x.tasks} | ${x.unsettled} | ${x.idempotentRepeats} / ${x.nonIdempotentRepeats} / ${x.afterSucceeded} | ${x.overlaps.length} | ${x.discardedHealthy} / ${x.discardedVictim} (metric, healthy: ${x.discardedHealthyByMetric ?? 'not exported'}) | ${x.contradictingTasks} |`,
          ),
          ...rows.flatMap((x) => [
            `  ${x.round.name}: repeats by operation ${JSON.stringify(x.repeatsByOperation)}; not succeeded ${JSON.stringify(countBy(x.notSucceeded))}${x.round.settleError ? `; ${x.round.settleError}` : ''}`,
            ...x.overlaps
              .slice(0, 5)
              .map(
                (o) =>
                  `    overlap ${o.overlapMs} ms on ${taskById.get(o.taskId)?.step_id} ${o.taskId.slice(-8)}: ${o.first.worker.split(':').at(-1)} ${o.first.outcome} / ${o.second.worker.split(':').at(-1)} ${o.second.outcome}`,
              ),
            ...x.contradictions.slice(0, 5).map((line) => `    ${line}`),
            // A non-idempotent repeat in detail: its writes and the task's attempts, in ms from the fault.
            ...x.nonIdempotent.slice(0, 3).map((w) => {
              const rel = (at: number) => `${at - x.round.faultAt >= 0 ? '+' : ''}${at - x.round.faultAt}`;
              const own = attempts
                .filter((a) => a.task_id === w.taskId)
                .map((a) => `${a.worker.split(':').at(-1)} ${a.outcome} [${rel(Number(a.started_at))}..${rel(Number(a.finished_at))}]`);
              return `    repeat ${w.provider} ${w.operation} on ${w.stepId} ${w.taskId.slice(-8)}: writes at ${w.all.map(rel).join(', ')} ms (resumed at ${x.round.resumedAt === null ? '-' : rel(x.round.resumedAt)}); attempts ${own.join('; ')}`;
            }),
          ]),
          ...rows
            .filter((x) => x.round.ratePerSecond)
            .map(
              ({ round: { ratePerSecond: p } }) =>
                `  inside freeze: ${fmt(p!.before)} tasks settled/s in the ${BEFORE_WINDOW_MS / 1000} s before, ${fmt(p!.during)}/s during (${fmt((100 * p!.during) / Math.max(p!.before, 1e-9))} %); ` +
                `backlog at resume ${p!.backlogAtResume}; the others' sessions waiting on a lock: up to ${p!.othersBlockedOnLocks}`,
            ),
          `  writes no task accounts for: ${writes.unaccounted.length}${writes.unaccounted.length ? ` ${JSON.stringify(writes.unaccounted.slice(0, 5))}` : ''}`,
        ].join('\n'),
      );

      for (const x of rows) {
        const name = `round ${x.round.name} (${x.round.fault})`;
        expect.soft(x.round.settleError, `${name}: every task settles`).toBeNull();
        expect.soft(x.unsettled, `${name}: tasks lost (never settled)`).toBe(0);
        expect
          .soft(x.nonIdempotentRepeats, `${name}: non-idempotent writes repeated ${JSON.stringify(x.nonIdempotentByOperation)}`)
          .toBe(0);
        expect.soft(x.afterSucceeded, `${name}: writes sent after their task was recorded succeeded`).toBe(0);
        expect.soft(x.overlaps.length, `${name}: attempts of one task overlapping in time (a task run twice at once)`).toBe(0);
        expect
          .soft(
            x.discardedHealthy,
            `${name}: finished results of healthy replicas discarded by the store (attempts without their audit entry)`,
          )
          .toBe(0);
        if (x.discardedHealthyByMetric !== null) {
          expect.soft(x.discardedHealthyByMetric, `${name}: ${DISCARDED_METRIC} of the healthy replicas rose`).toBe(0);
        }
        expect.soft(x.contradictions, `${name}: task records contradicting the provider`).toEqual([]);
      }
      expect
        .soft(
          terminations.filter((t) => t.state !== 'completed' && t.state !== 'failed').length,
          'terminations not settled (completed or failed)',
        )
        .toBe(0);
      expect.soft(writes.unaccounted, 'writes no task accounts for').toEqual([]);
      const inside = rounds.find((r) => r.name === 'inside')?.ratePerSecond;
      expect(inside, 'the inside round measured its rates').toBeDefined();
      // The comparison means something only if work was still queued when the freeze ended.
      expect
        .soft(inside!.backlogAtResume, 'tasks still queued at the end of the inside freeze (else the rate measured the intake)')
        .toBeGreaterThan(0);
      expect
        .soft(
          inside!.during,
          `tasks settled/s while one replica was frozen inside a transaction: ${fmt(inside!.during)}/s against ${fmt(inside!.before)}/s before (must be at least half)`,
        )
        .toBeGreaterThanOrEqual(inside!.before / 2);
      expect.soft(inside!.before, 'the before-window settled work at all').toBeGreaterThan(0);
    },
    3 * ROUND_DEADLINE_MS + 60_000,
  );
});

function byOperation(repeats: Array<{ provider: string; operation: string; extra: number }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of repeats) out[`${w.provider} ${w.operation}`] = (out[`${w.provider} ${w.operation}`] ?? 0) + w.extra;
  return out;
}

function countBy(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of list) out[item] = (out[item] ?? 0) + 1;
  return out;
}
