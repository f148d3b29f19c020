/**
 * The store's re-verification queue (src/store/sql/reverifications.ts), run against every
 * backend: scheduled with the completion, claimed with a lease, run once, drift remediated.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_REVERIFY_OFFSETS_MS, MAX_REVERIFY_CLAIMS } from '../../src/domain/reverify.ts';
import type { Task } from '../../src/domain/types.ts';
import type { SqlStore } from '../../src/store/sql-store.ts';
import type { AttemptOutcome, ReverifyClaimRequest } from '../../src/store/store.ts';
import type { StoreBackend, TestDatabase } from './backends.ts';
import { newTask, newTermination, succeededAttempt } from './suite.ts';

const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const succeeded: AttemptOutcome = { state: 'succeeded', evidence: { verify: { status: 'SUSPENDED' } }, account: { id: 'acc-1' } };

export function defineReverifySuite(backend: StoreBackend): void {
  describe(`Re-verifications on ${backend.name}`, () => {
    let now = T0;
    let db: TestDatabase;
    let store: SqlStore;

    beforeEach(async () => {
      now = T0;
      db = await backend.open(() => new Date(now));
      store = db.store;
    });
    afterEach(async () => {
      await db?.dispose();
    });

    const claimReverify = (request: Partial<ReverifyClaimRequest> = {}) =>
      store.claimDueReverifications({ worker: 'w1', provider: 'okta', now: new Date(now), leaseMs: MINUTE, limit: 10, ...request });

    /** Claims every due task and finishes each with `outcome` (all attempts succeed here). */
    async function runAll(outcome: AttemptOutcome = succeeded): Promise<void> {
      for (const provider of ['okta', 'slack']) {
        const tasks = await store.claimDueTasks({ worker: 'w1', provider, now: new Date(now), leaseMs: MINUTE, limit: 100 });
        for (const task of tasks) await store.finishAttempt('w1', task, outcome, attemptOf(task));
      }
    }

    /** A completed termination: a disable at Okta (verified) and a notification (not re-verified). */
    async function completed(playbook = 'employee') {
      const t = newTermination(now, { playbook });
      const disable = newTask('disable');
      const notify = newTask('tell', { provider: 'slack', action: 'notify', critical: false });
      await store.createTermination(t, [disable, notify]);
      await runAll();
      expect((await store.getTermination(t.id))?.state).toBe('completed');
      return { t, disable };
    }

    it('schedules one re-verification per verified task and offset when a termination completes', async () => {
      const { t, disable } = await completed();
      const rows = await store.listReverifications(t.id);
      expect(rows.map((r) => [r.taskId, r.round, r.dueAt.getTime(), r.state, r.reason])).toEqual(
        DEFAULT_REVERIFY_OFFSETS_MS.map((offset, round) => [disable.id, round, T0 + offset, 'pending', 'scheduled']),
      );
    });

    it('schedules a client organization’s many verified tasks (more rows than one INSERT may bind)', async () => {
      // 1,000 member tasks x 4 offsets = 4,000 rows of 17 values: over SQLite's 32,766 in one statement.
      const t = newTermination(now, { playbook: 'customer' });
      const members = Array.from({ length: 1_000 }, (_, i) => newTask(`members/m${i}/disable_account`));
      await store.createTermination(t, members);
      for (;;) {
        const tasks = await store.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(now), leaseMs: MINUTE, limit: 200 });
        if (tasks.length === 0) break;
        for (const task of tasks) await store.finishAttempt('w1', task, succeeded, attemptOf(task));
      }
      expect((await store.getTermination(t.id))?.state).toBe('completed');
      expect(await store.listReverifications(t.id)).toHaveLength(1_000 * DEFAULT_REVERIFY_OFFSETS_MS.length);
    });

    it('takes the offsets from the playbook schedule it was given', async () => {
      store.setReverifySchedule((playbook) => (playbook === 'contractor' ? [2 * HOUR] : []));
      const employee = await completed('employee');
      const contractor = await completed('contractor');
      expect(await store.listReverifications(employee.t.id)).toEqual([]);
      expect((await store.listReverifications(contractor.t.id)).map((r) => r.dueAt.getTime())).toEqual([T0 + 2 * HOUR]);
    });

    it('claims only what is due, and nothing while a live task of the provider is due', async () => {
      store.setReverifySchedule(() => [HOUR]);
      const { t } = await completed();
      expect(await claimReverify()).toEqual([]);
      now = T0 + HOUR;
      await store.createTermination(newTermination(now), [newTask('disable', { notBefore: new Date(now) })]);
      expect(await claimReverify(), 'a live termination goes first').toEqual([]);
      expect(await claimReverify({ provider: 'slack' })).toEqual([]);
      await runAll();
      // The second termination completed only now: its first re-verification is an hour away.
      const claimed = await claimReverify();
      expect(claimed.map((c) => [c.reverification.terminationId, c.reverification.state, c.task.account])).toEqual([
        [t.id, 'running', { id: 'acc-1' }],
      ]);
      expect(await claimReverify(), 'claimed rows are leased').toEqual([]);
    });

    it('is not held back by a due task that cannot run (behind a failed dependency)', async () => {
      store.setReverifySchedule(() => [HOUR]);
      const { t } = await completed();
      now = T0 + HOUR;
      const blocked = newTermination(now);
      await store.createTermination(blocked, [
        newTask('first', { notBefore: new Date(now) }),
        newTask('second', { notBefore: new Date(now), dependsOn: ['first'] }),
      ]);
      const [first] = await store.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(now), leaseMs: MINUTE, limit: 1 });
      expect(first?.stepId).toBe('first');
      await store.finishAttempt(
        'w1',
        first!,
        { state: 'failed', error: { kind: 'permanent', message: 'missing scope' } },
        attemptOf(first!),
      );
      expect((await store.listTasks(blocked.id)).find((x) => x.stepId === 'second')?.state).toBe('pending');
      expect((await claimReverify()).map((c) => c.reverification.terminationId)).toEqual([t.id]);
    });

    it('runs once: an expired lease is claimed again and the first holder’s result is refused', async () => {
      store.setReverifySchedule(() => [HOUR]);
      await completed();
      now = T0 + HOUR;
      const [first] = await claimReverify({ worker: 'w1' });
      now += 2 * MINUTE;
      const [second] = await claimReverify({ worker: 'w2' });
      expect(second!.reverification.id).toBe(first!.reverification.id);
      expect(second!.reverification.claims).toBe(2);
      expect(await store.finishReverification('w1', first!.reverification, { outcome: 'held', evidence: {} })).toBe(false);
      expect(await store.finishReverification('w2', second!.reverification, { outcome: 'held', evidence: { status: 'SUSPENDED' } })).toBe(
        true,
      );
      const [row] = await store.listReverifications(second!.reverification.terminationId);
      expect(row).toMatchObject({ state: 'done', outcome: 'held', evidence: { status: 'SUSPENDED' } });
      await store.linkAudit();
      const audit = await store.listAuditOf(row!.terminationId);
      expect(audit.filter((a) => a.action === 'task.reverified')).toHaveLength(1);
    });

    it('retries an error later, then gives up as error after its claims', async () => {
      store.setReverifySchedule(() => [HOUR]);
      const { t } = await completed();
      now = T0 + HOUR;
      for (let i = 1; i <= MAX_REVERIFY_CLAIMS; i += 1) {
        const [claimed] = await claimReverify();
        expect(claimed, `claim ${i}`).toBeDefined();
        await store.finishReverification('w1', claimed!.reverification, {
          outcome: 'error',
          evidence: { error: 'HTTP 503' },
          retryAt: new Date(now + MINUTE),
        });
        now += MINUTE;
      }
      expect(await claimReverify()).toEqual([]);
      expect((await store.listReverifications(t.id)).map((r) => [r.state, r.outcome])).toEqual([['done', 'error']]);
    });

    it('on drift with remediation: notifies, puts the task back, reopens the termination, and schedules again once it completes', async () => {
      // Two rounds: the later one is replaced by the fresh schedule the remediation's completion writes.
      store.setReverifySchedule(() => [HOUR, 2 * HOUR]);
      const { t, disable } = await completed();
      now = T0 + HOUR;
      const [claimed] = await claimReverify();
      const notify = newTask('notify-drift', { provider: 'slack', action: 'notify', critical: false, notBefore: new Date(now) });
      expect(
        await store.finishReverification('w1', claimed!.reverification, {
          outcome: 'drift',
          evidence: { observed: { status: 'ACTIVE' } },
          remediate: true,
          followUp: [notify],
        }),
      ).toBe(true);
      expect((await store.getTask(disable.id))?.state).toBe('pending');
      expect((await store.getTermination(t.id))?.state).toBe('running');
      expect((await store.listTasks(t.id)).map((x) => x.stepId)).toContain('notify-drift');
      await store.linkAudit();
      const actions = (await store.listAuditOf(t.id)).map((a) => a.action);
      expect(actions).toEqual(expect.arrayContaining(['task.drift', 'task.remediation']));
      await runAll();
      expect((await store.getTermination(t.id))?.state).toBe('completed');
      const rounds = (await store.listReverifications(t.id)).filter((r) => r.state === 'pending');
      expect(rounds.map((r) => [r.taskId, r.dueAt.getTime()])).toEqual([
        [disable.id, now + HOUR],
        [disable.id, now + 2 * HOUR],
      ]);
    });

    it('on drift without remediation leaves the task as it was', async () => {
      store.setReverifySchedule(() => [HOUR]);
      const { t, disable } = await completed();
      now = T0 + HOUR;
      const [claimed] = await claimReverify();
      await store.finishReverification('w1', claimed!.reverification, { outcome: 'drift', evidence: {} });
      expect((await store.getTask(disable.id))?.state).toBe('succeeded');
      expect((await store.getTermination(t.id))?.state).toBe('completed');
    });

    it('queues an on-demand re-verification of a finished termination, due now, audited', async () => {
      store.setReverifySchedule(() => []);
      const { t, disable } = await completed();
      const created = await store.requestReverification(t.id, 'admin:alice');
      expect(created?.map((r) => [r.taskId, r.reason, r.dueAt.getTime()])).toEqual([[disable.id, 'on_demand', now]]);
      expect(await claimReverify()).toHaveLength(1);
      expect(await store.requestReverification('no-such-termination', 'admin:alice')).toBeNull();
      await store.linkAudit();
      expect((await store.listAuditOf(t.id)).map((a) => [a.action, a.actor])).toContainEqual([
        'termination.reverify_requested',
        'admin:alice',
      ]);
    });
  });
}

function attemptOf(task: Task) {
  return succeededAttempt(task, T0);
}
