/**
 * The Store contract, run against every backend (sqlite.test.ts, postgres.test.ts). Each
 * test opens a fresh database; concurrency tests use separate replicas where the backend
 * has them (PostgreSQL: one pool each), so races happen between real transactions.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GENESIS_HASH, chainHash } from '../../src/audit/chain.ts';
import type { JsonObject, Task, TaskAttempt } from '../../src/domain/types.ts';
import type { Database } from '../../src/store/schema.ts';
import { InvalidCursorError, type SqlStore } from '../../src/store/sql-store.ts';
import type { AttemptOutcome, AuditEntry, ClaimRequest, NewTask, NewTermination, Store } from '../../src/store/store.ts';
import { CancellationRefusedError, OpenTerminationConflictError, ReusedRequestIdError } from '../../src/domain/termination-conflicts.ts';
import { pollUntil } from '../helpers/poll.ts';
import type { StoreBackend, TestDatabase } from './backends.ts';

const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let counter = 0;
/**
 * Ids sort in the order they were made, as the daemon's time-ordered ids do: the counter is
 * padded, or `x-1000` would sort before `x-999` once a process had made a thousand (the
 * counter is shared by every file a test worker runs).
 */
const uid = (prefix: string) => `${prefix}-${String(++counter).padStart(8, '0')}-${randomUUID().slice(0, 8)}`;

export function newTermination(at: number, overrides: Partial<NewTermination> = {}): NewTermination {
  return {
    id: uid('term'),
    source: 'webhook',
    sourceEventId: uid('evt'),
    subjectKey: uid('subject'),
    subject: { externalId: 'E-1', emails: ['leaver@example.com'] },
    reason: 'resigned',
    playbook: 'employee',
    state: 'scheduled',
    requestedAt: new Date(at),
    effectiveAt: new Date(at),
    createdBy: 'hris',
    ...overrides,
  };
}

export function newTask(stepId: string, overrides: Partial<NewTask> = {}): NewTask {
  return {
    id: uid(stepId),
    stepId,
    provider: 'okta',
    action: 'disable_account',
    params: {},
    critical: true,
    dependsOn: [],
    notBefore: new Date(T0),
    ...overrides,
  };
}

const succeeded: AttemptOutcome = { state: 'succeeded', evidence: { status: 'SUSPENDED' }, account: { id: 'acc-1' } };
const skipped: AttemptOutcome = { state: 'skipped', evidence: { reason: 'no account' }, account: null };
const failed: AttemptOutcome = { state: 'failed', error: { kind: 'PermanentError', message: 'missing scope' } };
const retryAt = (at: number): AttemptOutcome => ({
  state: 'pending',
  nextAttemptAt: new Date(at),
  error: { kind: 'TransientError', message: 'HTTP 503' },
  countsAsAttempt: true,
  rateLimited: false,
  checkpoint: null,
  account: null,
});

/** The attempt record a worker would write for an outcome. */
function attemptFor(task: Task, worker: string, outcome: AttemptOutcome, at: number): TaskAttempt {
  const kind = outcome.state === 'pending' ? (outcome.error ? 'retry' : 'in_progress') : outcome.state;
  const error = outcome.state === 'failed' || outcome.state === 'pending' ? outcome.error : null;
  return {
    taskId: task.id,
    // Counted when claimed: the claimed task's attempts already include this one.
    attempt: task.attempts,
    worker,
    startedAt: new Date(at),
    finishedAt: new Date(at),
    outcome: kind,
    errorKind: error?.kind ?? null,
    errorMessage: error?.message ?? null,
    evidence: outcome.state === 'succeeded' || outcome.state === 'skipped' ? outcome.evidence : null,
  };
}

/**
 * Every entry is linked, at consecutive positions from the chain's start, links to the one
 * before, and its hash recomputes from its fields. (Not in seq order: on PostgreSQL seq
 * values commit out of order, and the chain follows the linker.)
 */
/** The attempt record of a worker `w1` that ran `task` at `at` and succeeded, as the suites finish tasks. */
export function succeededAttempt(task: Task, at: number): TaskAttempt {
  return {
    taskId: task.id,
    attempt: task.attempts,
    worker: 'w1',
    startedAt: new Date(at),
    finishedAt: new Date(at),
    outcome: 'succeeded',
    errorKind: null,
    errorMessage: null,
    evidence: null,
  };
}

export function expectLinearChain(entries: AuditEntry[]): void {
  let prev = GENESIS_HASH;
  entries.forEach((entry, i) => {
    expect(entry.position, `entry seq ${entry.seq} is linked`).toBe(i + 1);
    expect(entry.prevHash).toBe(prev);
    const fields = {
      at: entry.at.getTime(),
      actor: entry.actor,
      action: entry.action,
      terminationId: entry.terminationId,
      taskId: entry.taskId,
      data: entry.sealedData ?? JSON.stringify(entry.data),
    };
    expect(chainHash(prev, fields)).toBe(entry.hash);
    prev = entry.hash!;
  });
}

/** Links what was appended (the store's own linker run, not a sleep) and reads the whole chain. */
export async function linkedChain(store: Store, limit = 1_000): Promise<AuditEntry[]> {
  await store.linkAudit();
  return store.listAudit(0, limit);
}

/** Resolves on the store's next wake; fails the test if none comes in time. */
export function nextWake(store: Store, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no wake within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = store.onWake(() => {
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

export function defineStoreSuite(backend: StoreBackend): void {
  describe(`Store on ${backend.name}`, () => {
    let now = T0;
    const clock = () => new Date(now);
    let db: TestDatabase;
    let store: SqlStore;

    beforeEach(async () => {
      now = T0;
      db = await backend.open(clock);
      store = db.store;
    });
    afterEach(async () => {
      await db?.dispose();
    });

    const claim = (on: Store, request: Partial<ClaimRequest> = {}) =>
      on.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(now), leaseMs: MINUTE, limit: 10, ...request });
    const finish = (on: Store, worker: string, task: Task, outcome: AttemptOutcome) =>
      on.finishAttempt(worker, task, outcome, attemptFor(task, worker, outcome, now));
    /** Claims one specific task as `worker` and reports an outcome for it. */
    const runTask = async (taskId: string, outcome: AttemptOutcome, worker = 'w1') => {
      const task = await store.getTask(taskId);
      const claimed = await claim(store, { worker, provider: task!.provider, limit: 100 });
      const mine = claimed.find((t) => t.id === taskId);
      expect(mine, `task ${taskId} is claimable`).toBeDefined();
      await store.releaseTasks(
        worker,
        claimed.filter((t) => t.id !== taskId),
      );
      expect(await finish(store, worker, mine!, outcome)).toBe(true);
    };

    describe('createTermination', () => {
      it('writes the termination, its tasks and their dependencies together', async () => {
        const t = newTermination(now);
        const disable = newTask('disable');
        const remove = newTask('delete', {
          action: 'delete_account',
          critical: false,
          dependsOn: ['disable'],
          notBefore: new Date(T0 + 30 * DAY),
        });
        const result = await store.createTermination(t, [disable, remove]);
        expect(result.created).toBe(true);
        expect(result.termination).toMatchObject({ id: t.id, state: 'scheduled', revokedAt: null, subject: t.subject });
        const tasks = await store.listTasks(t.id);
        expect(tasks.map((x) => [x.id, x.state, x.dependsOn, x.notBefore.getTime()])).toEqual([
          [disable.id, 'pending', [], T0],
          [remove.id, 'pending', ['disable'], T0 + 30 * DAY],
        ]);
        expect((await store.listAudit(0, 10)).map((a) => [a.action, a.terminationId])).toEqual([['termination.created', t.id]]);
      });

      it.each([
        ['a task insert violates a constraint', (ids: string[]) => [newTask('disable'), newTask('disable', { id: ids[0] })]],
        ['a dependency names an unknown step', () => [newTask('disable'), newTask('delete', { dependsOn: ['nope'] })]],
      ])('leaves nothing behind when %s', async (_name, tasksFor) => {
        const t = newTermination(now);
        await expect(store.createTermination(t, tasksFor([uid('dup')]))).rejects.toThrow();
        expect(await store.getTermination(t.id)).toBeNull();
        expect(await store.listTasks(t.id)).toEqual([]);
        expect(await store.findOpenTermination(t.subjectKey)).toBeNull();
        expect(await store.listAudit(0, 10)).toEqual([]);
        const again = await store.createTermination(t, [newTask('disable')]);
        expect(again.created).toBe(true);
      });

      it('answers a second delivery of the same source event with the first termination, changing nothing', async () => {
        const first = newTermination(now);
        const original = await store.createTermination(first, [newTask('disable')]);
        const auditBefore = await store.listAudit(0, 100);
        const repeat = newTermination(now + MINUTE, {
          source: first.source,
          sourceEventId: first.sourceEventId,
          subjectKey: uid('other-subject'),
        });
        const result = await store.createTermination(repeat, [newTask('disable'), newTask('revoke')]);
        expect(result).toEqual({ termination: original.termination, created: false, outcome: 'created', duplicate: true });
        expect(await store.getTermination(repeat.id)).toBeNull();
        expect(await store.listTasks(first.id)).toHaveLength(1);
        expect(await store.listAudit(0, 100)).toEqual(auditBefore);
      });

      it('refuses the same source event id with another body hash, writing nothing; the same hash is a repeat', async () => {
        const first = newTermination(now, { source: 'admin' });
        const request = { bodySha256: 'a'.repeat(64) };
        const original = await store.createTermination(first, [newTask('disable')], { request });
        const auditBefore = await store.listAudit(0, 100);
        const other = newTermination(now, { source: 'admin', sourceEventId: first.sourceEventId });
        const refused = store.createTermination(other, [newTask('disable')], { request: { bodySha256: 'b'.repeat(64) } });
        await expect(refused).rejects.toBeInstanceOf(ReusedRequestIdError);
        await expect(refused).rejects.toMatchObject({ terminationId: first.id });
        expect(await store.getTermination(other.id)).toBeNull();
        expect(await store.listAudit(0, 100)).toEqual(auditBefore);
        const repeat = await store.createTermination(other, [newTask('disable')], { request });
        expect(repeat).toEqual({ termination: original.termination, created: false, outcome: 'created', duplicate: true });
      });
      it('lets exactly one of several concurrent deliveries for one subject through', async () => {
        const replicas = await db.replicas(6);
        const subjectKey = uid('subject');
        const results = await Promise.all(
          replicas.map((r, i) =>
            r.createTermination(newTermination(now, { subjectKey, source: i % 2 ? 'scim' : 'webhook' }), [
              newTask('disable'),
              newTask('revoke', { action: 'revoke_sessions' }),
            ]),
          ),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        const winner = results.find((r) => r.created)!.termination.id;
        expect(new Set(results.map((r) => r.termination.id))).toEqual(new Set([winner]));
        expect((await store.listTerminations({ subjectKey, limit: 10 })).items.map((t) => t.id)).toEqual([winner]);
        expect((await store.stats(new Date(now))).tasks.reduce((n, t) => n + t.count, 0)).toBe(2);
      });

      it('holds a new termination once `max` were requested in the brake window, counting only inside it', async () => {
        const brake = { max: 3, since: new Date(now - MINUTE) };
        // One before the window does not count; two inside it leave room for a third.
        await store.createTermination(newTermination(now - HOUR), [newTask('disable')]);
        for (let i = 0; i < 2; i += 1) await store.createTermination(newTermination(now), [newTask('disable')]);
        const third = await store.createTermination(newTermination(now), [newTask('disable')], { brake, onHeld: [newTask('notify')] });
        expect(third.termination.state).toBe('scheduled');
        expect(await store.listTasks(third.termination.id)).toHaveLength(1);
        // Three inside it now: the next ones are held, with the tasks for a held termination added.
        for (let i = 0; i < 2; i += 1) {
          const held = await store.createTermination(newTermination(now), [newTask('disable')], { brake, onHeld: [newTask('notify')] });
          expect(held.termination.state).toBe('held');
          expect((await store.listTasks(held.termination.id)).map((t) => t.stepId).sort()).toEqual(['disable', 'notify']);
        }
      });

      it('lets exactly one of several concurrent deliveries of one event through', async () => {
        const replicas = await db.replicas(6);
        const sourceEventId = uid('evt');
        const results = await Promise.all(
          replicas.map((r) => r.createTermination(newTermination(now, { sourceEventId }), [newTask('disable')])),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(results.map((r) => r.termination.id)).size).toBe(1);
        expect((await store.listTerminations({ limit: 10 })).items).toHaveLength(1);
      });
    });

    describe('a second request for a subject with an open termination', () => {
      const open = async (
        overrides: Partial<NewTermination> = {},
        tasks = [newTask('disable'), newTask('delete', { action: 'delete_account', critical: false, notBefore: new Date(T0 + 30 * DAY) })],
      ) => {
        const t = newTermination(now, { effectiveAt: new Date(T0 + 10 * DAY), ...overrides });
        await store.createTermination(t, tasks);
        return { t, tasks };
      };

      it('joins it at a later or equal time with the same playbook: nothing moves, the request is audited and remembered', async () => {
        const { t, tasks } = await open();
        const tasksBefore = await store.listTasks(t.id);
        for (const effectiveAt of [T0 + 10 * DAY, T0 + 99 * DAY]) {
          const second = newTermination(now, {
            source: 'scim',
            subjectKey: t.subjectKey,
            effectiveAt: new Date(effectiveAt),
            createdBy: 'scim:token-0',
          });
          const result = await store.createTermination(second, [newTask('disable')]);
          expect(result).toMatchObject({
            created: false,
            outcome: 'joined',
            duplicate: false,
            termination: { id: t.id, effectiveAt: t.effectiveAt },
          });
          expect(await store.getTermination(second.id)).toBeNull();
          // Its own repeat is a duplicate, answered with what it did.
          expect(await store.createTermination({ ...second, id: uid('term') }, [newTask('disable')])).toMatchObject({
            outcome: 'joined',
            duplicate: true,
          });
        }
        expect(await store.listTasks(t.id)).toEqual(tasksBefore);
        expect(tasks).toHaveLength(2);
        const joined = (await store.listAuditOf(t.id)).filter((e) => e.action === 'termination.joined');
        expect(joined.map((e) => [e.actor, e.data.channel])).toEqual([
          ['scim:token-0', 'scim'],
          ['scim:token-0', 'scim'],
        ]);
        expectLinearChain(await linkedChain(store, 100));
      });

      it('brings it forward for an earlier time: pending tasks move by the same amount, a retry keeps its later time, a running task is untouched', async () => {
        // Effective in 20 days, brought forward by 10; two of its tasks start now (no delay relative to the past).
        const far = newTermination(now, { effectiveAt: new Date(T0 + 20 * DAY) });
        const farWaiting = newTask('disable', { notBefore: new Date(T0 + 20 * DAY) });
        const farRetry = newTask('revoke', { provider: 'google', action: 'revoke_sessions', notBefore: new Date(T0) });
        const farRunning = newTask('badge', { provider: 'brivo', action: 'deactivate_badge', notBefore: new Date(T0) });
        const farDelete = newTask('delete', { action: 'delete_account', critical: false, notBefore: new Date(T0 + 50 * DAY) });
        await store.createTermination(far, [farWaiting, farRetry, farRunning, farDelete]);
        await runTask(farRetry.id, retryAt(T0 + 15 * DAY));
        const [claimedBadge] = await claim(store, { provider: 'brivo', leaseMs: DAY });
        expect(claimedBadge?.id).toBe(farRunning.id);

        const earlier = newTermination(now, {
          source: 'admin',
          subjectKey: far.subjectKey,
          effectiveAt: new Date(T0 + 10 * DAY),
          createdBy: 'admin:alice',
        });
        const result = await store.createTermination(earlier, [newTask('disable')], { request: { playbookNamed: false } });
        expect(result).toMatchObject({
          created: false,
          outcome: 'rescheduled',
          duplicate: false,
          previousEffectiveAt: new Date(T0 + 20 * DAY),
        });
        expect(result.termination).toMatchObject({ id: far.id, effectiveAt: new Date(T0 + 10 * DAY) });
        const byId = new Map((await store.listTasks(far.id)).map((x) => [x.id, x]));
        expect(byId.get(farWaiting.id)).toMatchObject({
          state: 'pending',
          notBefore: new Date(T0 + 10 * DAY),
          nextAttemptAt: new Date(T0 + 10 * DAY),
        });
        expect(byId.get(farDelete.id)).toMatchObject({ state: 'pending', notBefore: new Date(T0 + 40 * DAY) });
        // Its retry at day 15 is later than its shifted start: kept, never moved later.
        expect(byId.get(farRetry.id)).toMatchObject({ state: 'pending', nextAttemptAt: new Date(T0 + 15 * DAY) });
        expect(byId.get(farRunning.id)).toMatchObject({ state: 'running', notBefore: new Date(T0) });
        // The waiting task is claimable at the new time, not before.
        now = T0 + 10 * DAY - MINUTE;
        expect((await claim(store)).map((x) => x.id)).not.toContain(farWaiting.id);
        now = T0 + 10 * DAY;
        expect((await claim(store)).map((x) => x.id)).toContain(farWaiting.id);
        expect((await store.listAuditOf(far.id)).find((e) => e.action === 'termination.rescheduled')).toMatchObject({
          actor: 'admin:alice',
          data: { channel: 'admin', from: new Date(T0 + 20 * DAY).toISOString(), to: new Date(T0 + 10 * DAY).toISOString(), tasksMoved: 3 },
        });
        expectLinearChain(await linkedChain(store));
      });

      it('refuses a named other playbook with the open termination, writing nothing; an unnamed one joins', async () => {
        const { t } = await open();
        const auditBefore = await store.listAudit(0, 100);
        const other = newTermination(now, { subjectKey: t.subjectKey, playbook: 'contractor', effectiveAt: new Date(T0) });
        const refused = store.createTermination(other, [newTask('disable')]);
        await expect(refused).rejects.toBeInstanceOf(OpenTerminationConflictError);
        await expect(refused).rejects.toMatchObject({ open: { id: t.id, playbook: 'employee' }, requestedPlaybook: 'contractor' });
        expect(await store.listAudit(0, 100)).toEqual(auditBefore);
        expect((await store.getTermination(t.id))!.effectiveAt).toEqual(t.effectiveAt);
        const unnamed = await store.createTermination({ ...other, sourceEventId: uid('evt') }, [newTask('disable')], {
          request: { playbookNamed: false },
        });
        expect(unnamed).toMatchObject({
          outcome: 'rescheduled',
          termination: { id: t.id, playbook: 'employee', effectiveAt: new Date(T0) },
        });
      });

      it('lets an operator supersede it: its unrun tasks are cancelled, the new one created, both audited', async () => {
        const { t } = await open();
        const replacement = newTermination(now, {
          source: 'admin',
          subjectKey: t.subjectKey,
          playbook: 'contractor',
          createdBy: 'admin:alice',
          reason: 'wrong playbook',
        });
        const result = await store.createTermination(replacement, [newTask('revoke', { action: 'revoke_sessions' })], {
          request: { supersede: true },
        });
        expect(result).toMatchObject({
          created: true,
          outcome: 'superseded',
          duplicate: false,
          supersededId: t.id,
          termination: { id: replacement.id, playbook: 'contractor' },
        });
        expect(await store.getTermination(t.id)).toMatchObject({ state: 'cancelled' });
        expect((await store.listTasks(t.id)).map((x) => x.state)).toEqual(['cancelled', 'cancelled']);
        expect((await store.findOpenTermination(t.subjectKey))?.id).toBe(replacement.id);
        expect((await store.listAuditOf(t.id)).at(-1)).toMatchObject({
          action: 'termination.superseded',
          actor: 'admin:alice',
          data: { by: replacement.id, tasksCancelled: 2, reason: 'wrong playbook' },
        });
        expect((await store.listAuditOf(replacement.id))[0]).toMatchObject({ action: 'termination.created', data: { supersedes: t.id } });
      });

      it('brings it forward to the earliest of several concurrent requests', async () => {
        const { t } = await open({ effectiveAt: new Date(T0 + 100 * DAY) }, [newTask('disable', { notBefore: new Date(T0 + 100 * DAY) })]);
        const replicas = await db.replicas(6);
        const results = await Promise.all(
          replicas.map((r, i) =>
            r.createTermination(newTermination(now, { subjectKey: t.subjectKey, effectiveAt: new Date(T0 + (i + 1) * DAY) }), [
              newTask('disable'),
            ]),
          ),
        );
        expect(new Set(results.map((r) => r.termination.id))).toEqual(new Set([t.id]));
        expect((await store.getTermination(t.id))!.effectiveAt).toEqual(new Date(T0 + DAY));
        expect((await store.listTasks(t.id)).map((x) => x.notBefore)).toEqual([new Date(T0 + DAY)]);
        expectLinearChain(await linkedChain(store));
      });
    });

    describe('cancelTermination by a channel', () => {
      it('refuses a channel a termination another channel asked for, audited, and lets it cancel its own', async () => {
        const t = newTermination(now, { source: 'admin', createdBy: 'admin:alice' });
        await store.createTermination(t, [newTask('disable')]);
        const webhook = { channel: 'webhook' as const, mayCancel: ['webhook' as const] };
        const refused = store.cancelTermination(t.id, 'webhook:msg_1', 'rehired', webhook);
        await expect(refused).rejects.toBeInstanceOf(CancellationRefusedError);
        await expect(refused).rejects.toMatchObject({ requestedBy: ['admin'] });
        expect((await store.getTermination(t.id))!.state).toBe('scheduled');
        expect((await store.listAuditOf(t.id)).at(-1)).toMatchObject({
          action: 'termination.cancel_refused',
          actor: 'webhook:msg_1',
          data: { channel: 'webhook', requestedBy: ['admin'], mayCancel: ['webhook'], reason: 'rehired' },
        });

        // A webhook termination SCIM joined: the webhook alone may not cancel it, unless it may cancel for SCIM too.
        const own = newTermination(now, { source: 'webhook' });
        await store.createTermination(own, [newTask('disable')]);
        await store.createTermination(newTermination(now, { source: 'scim', subjectKey: own.subjectKey }), [newTask('disable')]);
        await expect(store.cancelTermination(own.id, 'webhook:msg_2', 'rehired', webhook)).rejects.toMatchObject({
          requestedBy: ['scim', 'webhook'],
        });
        const cancelled = await store.cancelTermination(own.id, 'webhook:msg_3', 'rehired', {
          channel: 'webhook',
          mayCancel: ['webhook', 'scim'],
        });
        expect(cancelled?.state).toBe('cancelled');
        // Operators (no authority) cancel anything.
        expect((await store.cancelTermination(t.id, 'admin:bob', 'done'))?.state).toBe('cancelled');
        expectLinearChain(await linkedChain(store, 100));
      });
    });

    it('resolves durable() once what a read saw is on disk', async () => {
      await store.createTermination(newTermination(now), [newTask('disable')]);
      await expect(store.durable()).resolves.toBeUndefined();
    });

    describe('claimDueTasks', () => {
      it('leaves a task alone until it is due, then leases it', async () => {
        const t = newTermination(now);
        const task = newTask('disable', { notBefore: new Date(T0 + HOUR) });
        await store.createTermination(t, [task]);
        expect(await claim(store, { now: new Date(T0 + HOUR - 1) })).toEqual([]);
        const [claimed] = await claim(store, { now: new Date(T0 + HOUR), worker: 'w9' });
        expect(claimed).toMatchObject({
          id: task.id,
          state: 'running',
          leaseOwner: 'w9',
          leaseExpiresAt: new Date(T0 + HOUR + MINUTE),
          startedAt: new Date(T0 + HOUR),
        });
        expect((await store.getTermination(t.id))!.state).toBe('running');
        expect(await claim(store, { now: new Date(T0 + HOUR) })).toEqual([]);
      });

      it('holds a task back until every task it depends on succeeded or was skipped', async () => {
        const t = newTermination(now);
        const disable = newTask('disable');
        const transfer = newTask('transfer', { provider: 'google', action: 'transfer_files', critical: false, dependsOn: ['disable'] });
        const remove = newTask('delete', { action: 'delete_account', critical: false, dependsOn: ['transfer', 'disable'] });
        await store.createTermination(t, [disable, transfer, remove]);

        const [claimedDisable, ...others] = await claim(store);
        expect([claimedDisable!.id, ...others]).toEqual([disable.id]);
        expect(await claim(store, { provider: 'google' })).toEqual([]);
        expect(await finish(store, 'w1', claimedDisable!, succeeded)).toBe(true);
        expect(await claim(store)).toEqual([]);
        const [claimedTransfer] = await claim(store, { provider: 'google' });
        expect(claimedTransfer!.id).toBe(transfer.id);
        expect(await finish(store, 'w1', claimedTransfer!, skipped)).toBe(true);
        expect((await claim(store)).map((x) => x.id)).toEqual([remove.id]);
      });

      it('never releases a task whose dependency failed', async () => {
        const t = newTermination(now);
        const disable = newTask('disable');
        const remove = newTask('delete', { action: 'delete_account', dependsOn: ['disable'] });
        await store.createTermination(t, [disable, remove]);
        await runTask(disable.id, failed);
        expect(await claim(store, { now: new Date(T0 + 365 * DAY) })).toEqual([]);
      });

      it('does not claim tasks of a held termination until it is approved', async () => {
        const t = newTermination(now, { state: 'held' });
        const task = newTask('disable');
        await store.createTermination(t, [task]);
        expect(await claim(store)).toEqual([]);
        expect(await store.nextWakeAt()).toBeNull();
        expect((await store.stats(new Date(now))).heldTerminations).toBe(1);

        const woke = nextWake(store);
        const approved = await store.approveTermination(t.id, 'admin:alice');
        await woke;
        expect(approved!.state).toBe('scheduled');
        expect(await store.approveTermination(t.id, 'admin:alice')).toBeNull();
        expect((await claim(store)).map((x) => x.id)).toEqual([task.id]);
        const audit = await store.listAudit(0, 10);
        expect(audit.at(-1)).toMatchObject({ action: 'termination.approved', actor: 'admin:alice', terminationId: t.id });
      });

      it('takes at most `limit` tasks of the requested provider, earliest due first', async () => {
        const t = newTermination(now);
        const okta = Array.from({ length: 5 }, (_, i) => newTask(`okta-${i}`, { notBefore: new Date(T0 - (5 - i) * MINUTE) }));
        const google = [newTask('google-0', { provider: 'google' }), newTask('google-1', { provider: 'google' })];
        await store.createTermination(t, [...google, ...okta.slice().reverse()]);
        expect((await claim(store, { limit: 3 })).map((x) => x.id)).toEqual(okta.slice(0, 3).map((x) => x.id));
        expect((await claim(store, { limit: 3 })).map((x) => x.id)).toEqual(okta.slice(3).map((x) => x.id));
        expect(await claim(store, { limit: 3 })).toEqual([]);
        expect(await claim(store, { limit: 0, provider: 'google' })).toEqual([]);
        expect((await claim(store, { provider: 'google' })).map((x) => x.id).sort()).toEqual(google.map((x) => x.id).sort());
      });

      it('never hands one task to two concurrent claimers', async () => {
        const replicas = await db.replicas(6);
        const ids: string[] = [];
        for (let i = 0; i < 12; i += 1) {
          const tasks = Array.from({ length: 4 }, (_, j) => newTask(`step-${j}`));
          ids.push(...tasks.map((x) => x.id));
          await store.createTermination(newTermination(now), tasks);
        }
        const claimRound = async (at: number) => {
          const owner = new Map<string, string>();
          const duplicates: string[] = [];
          await Promise.all(
            replicas.map(async (replica, i) => {
              for (;;) {
                const got = await claim(replica, { worker: `w${i}`, now: new Date(at), limit: 3 });
                if (got.length === 0) return;
                for (const task of got) {
                  if (owner.has(task.id)) duplicates.push(task.id);
                  owner.set(task.id, `w${i}`);
                }
              }
            }),
          );
          expect(duplicates).toEqual([]);
          expect([...owner.keys()].sort()).toEqual(ids.slice().sort());
          for (const [id, worker] of owner) expect((await store.getTask(id))!.leaseOwner).toBe(worker);
        };
        await claimRound(now);
        // Every lease has now expired: the same race again, over reclaimed tasks.
        await claimRound(now + 2 * MINUTE);
      });
    });

    describe('getTerminations', () => {
      it('reads a batch by id and leaves unknown ids out', async () => {
        const a = newTermination(now);
        const b = newTermination(now);
        await store.createTermination(a, [newTask('disable')]);
        await store.createTermination(b, [newTask('disable')]);
        const found = await store.getTerminations([a.id, b.id, uid('missing')]);
        expect([...found.keys()].sort()).toEqual([a.id, b.id].sort());
        expect(found.get(a.id)).toEqual(await store.getTermination(a.id));
        expect(await store.getTerminations([])).toEqual(new Map());
      });
    });

    describe('leases', () => {
      it("lets another worker take a task whose lease expired, and discards the first worker's result", async () => {
        const t = newTermination(now);
        const task = newTask('disable');
        await store.createTermination(t, [task]);
        const [first] = await claim(store, { worker: 'w1', leaseMs: SECOND });
        expect(await claim(store, { worker: 'w2', now: new Date(T0 + SECOND - 1) })).toEqual([]);
        const [second] = await claim(store, { worker: 'w2', now: new Date(T0 + SECOND) });
        expect(second).toMatchObject({ id: task.id, leaseOwner: 'w2', state: 'running' });

        const before = await store.getTask(task.id);
        expect(await finish(store, 'w1', first!, succeeded)).toBe(false);
        expect(await store.getTask(task.id)).toEqual(before);
        expect(await finish(store, 'w1', first!, retryAt(T0 + HOUR))).toBe(false);
        expect(await store.getTask(task.id)).toEqual(before);
        // The late attempt stays on record: it did reach the provider.
        expect((await store.listAttempts(t.id)).map((a) => a.worker)).toEqual(['w1', 'w1']);

        expect(await finish(store, 'w2', second!, succeeded)).toBe(true);
        expect((await store.getTask(task.id))!.state).toBe('succeeded');
      });

      it("refuses a late result from the same worker once it reclaimed the task: the claim's token is the proof, not the name", async () => {
        const t = newTermination(now);
        const task = newTask('disable');
        await store.createTermination(t, [task]);
        const [first] = await claim(store, { worker: 'w1', leaseMs: SECOND });
        // w1 froze past its lease; the task came back to w1 itself.
        const [second] = await claim(store, { worker: 'w1', now: new Date(T0 + SECOND) });
        expect(second!.leaseToken).not.toBe(first!.leaseToken);
        expect(await store.renewLeases('w1', [first!], HOUR)).toEqual({ renewed: [], busy: [] });
        expect(await finish(store, 'w1', first!, succeeded)).toBe(false);
        expect((await store.getTask(task.id))!.state).toBe('running');
        expect(await finish(store, 'w1', second!, succeeded)).toBe(true);
        expect((await store.getTask(task.id))!.state).toBe('succeeded');
      });

      it('never reports "no account" for a task an earlier attempt did, whichever result arrives first', async () => {
        const deleted: AttemptOutcome = {
          state: 'succeeded',
          evidence: { account: { id: 'acc-1' }, execute: { deleted: true } },
          account: { id: 'acc-1' },
        };
        const noAccount: AttemptOutcome = {
          state: 'skipped',
          evidence: { skipped: 'the subject has no account at this provider' },
          account: null,
        };
        for (const order of ['late result first', 'late result second']) {
          const task = newTask('delete', { action: 'delete_account' });
          await store.createTermination(newTermination(now), [task]);
          const [stale] = await claim(store, { worker: 'w1', leaseMs: SECOND });
          const [current] = await claim(store, { worker: 'w2', now: new Date(T0 + SECOND) });
          if (order === 'late result first') {
            expect(await finish(store, 'w1', stale!, deleted)).toBe(false);
            expect(await finish(store, 'w2', current!, noAccount)).toBe(true);
          } else {
            expect(await finish(store, 'w2', current!, noAccount)).toBe(true);
            expect(await finish(store, 'w1', stale!, deleted)).toBe(false);
          }
          const after = await store.getTask(task.id);
          expect(after, order).toMatchObject({
            state: 'succeeded',
            account: { id: 'acc-1' },
            evidence: { execute: { deleted: true }, doneByAttempt: 1, confirmedAbsentByAttempt: 2 },
          });
        }
      });

      it('records the account an attempt found only while its claim holds the task', async () => {
        const task = newTask('delete', { action: 'delete_account' });
        await store.createTermination(newTermination(now), [task]);
        const [stale] = await claim(store, { worker: 'w1', leaseMs: SECOND });
        const [current] = await claim(store, { worker: 'w2', now: new Date(T0 + SECOND) });
        expect(await store.recordAccount(stale!, { id: 'acc-stale' })).toBe(false);
        expect((await store.getTask(task.id))!.account).toBeNull();
        expect(await store.recordAccount(current!, { id: 'acc-1' })).toBe(true);
        expect((await store.getTask(task.id))!.account).toEqual({ id: 'acc-1' });
      });

      it('counts an attempt when it is claimed, so attempts that never report are counted too', async () => {
        const task = newTask('disable');
        await store.createTermination(newTermination(now), [task]);
        const [first] = await claim(store, { worker: 'w1', leaseMs: SECOND });
        expect(first).toMatchObject({ attempts: 1 });
        const [second] = await claim(store, { worker: 'w2', now: new Date(T0 + SECOND), leaseMs: SECOND });
        expect(second).toMatchObject({ attempts: 2 });
        // A wait that does not count (a rate limit) gives the claim's attempt back.
        expect(
          await finish(store, 'w2', second!, { ...retryAt(T0 + HOUR), countsAsAttempt: false, rateLimited: true } as AttemptOutcome),
        ).toBe(true);
        expect(await store.getTask(task.id)).toMatchObject({ attempts: 1, rateLimitedCount: 1 });
      });

      it('gives a task whose lease expired out before tasks that are merely due, within the limit', async () => {
        const stale = newTask('disable');
        await store.createTermination(newTermination(now), [stale]);
        await claim(store, { worker: 'w1', leaseMs: SECOND });
        const fresh = [newTask('disable'), newTask('disable')];
        for (const task of fresh) await store.createTermination(newTermination(now), [task]);
        const claimed = await claim(store, { worker: 'w2', now: new Date(T0 + SECOND), limit: 2 });
        expect(claimed.map((t) => t.id)[0]).toBe(stale.id);
        expect(claimed).toHaveLength(2);
        expect(claimed.every((t) => t.leaseOwner === 'w2')).toBe(true);
      });

      it('keeps a renewed lease, and gives released tasks back without using an attempt', async () => {
        const task = newTask('disable');
        await store.createTermination(newTermination(now), [task]);
        const [held] = await claim(store, { worker: 'w1', leaseMs: SECOND });
        expect(held).toMatchObject({ attempts: 1 });
        // Another worker, or a stale token of this one, renews nothing.
        expect(await store.renewLeases('w2', [held!], HOUR)).toEqual({ renewed: [], busy: [] });
        expect(await store.renewLeases('w1', [{ id: task.id, leaseToken: 'stale' }], HOUR)).toEqual({ renewed: [], busy: [] });
        expect(await store.renewLeases('w1', [held!], 5 * SECOND)).toEqual({ renewed: [task.id], busy: [] });
        expect(await claim(store, { worker: 'w2', now: new Date(T0 + 5 * SECOND - 1) })).toEqual([]);
        await store.releaseTasks('w1', [held!]);
        const [again] = await claim(store, { worker: 'w2' });
        // The release gave back the attempt the first claim counted; this claim counts its own.
        expect(again).toMatchObject({ id: task.id, attempts: 1, leaseOwner: 'w2' });
      });

      it('never claims a succeeded task again', async () => {
        const t = newTermination(now);
        const task = newTask('disable');
        await store.createTermination(t, [task]);
        const [claimed] = await claim(store, { leaseMs: SECOND });
        expect(await finish(store, 'w1', claimed!, succeeded)).toBe(true);
        expect(await claim(store, { now: new Date(T0 + 10 * 365 * DAY), worker: 'w2' })).toEqual([]);
        expect(await finish(store, 'w1', claimed!, failed)).toBe(false);
        expect(await store.getTask(task.id)).toMatchObject({
          state: 'succeeded',
          attempts: 1,
          evidence: { status: 'SUSPENDED' },
          account: { id: 'acc-1' },
          leaseOwner: null,
        });
        expect(await store.nextWakeAt()).toBeNull();
      });
    });

    describe('finishAttempt', () => {
      it('puts a rate-limited task back without using an attempt, due when the provider said', async () => {
        const task = newTask('disable');
        await store.createTermination(newTermination(now), [task]);
        const [claimed] = await claim(store);
        const limited: AttemptOutcome = {
          state: 'pending',
          nextAttemptAt: new Date(T0 + 30 * SECOND),
          error: { kind: 'RateLimitedError', message: 'HTTP 429' },
          countsAsAttempt: false,
          rateLimited: true,
          checkpoint: { cursor: 'c1' },
          account: { id: 'acc-1' },
        };
        expect(await finish(store, 'w1', claimed!, limited)).toBe(true);
        expect(await store.getTask(task.id)).toMatchObject({
          state: 'pending',
          attempts: 0,
          rateLimitedCount: 1,
          nextAttemptAt: new Date(T0 + 30 * SECOND),
          leaseOwner: null,
          leaseExpiresAt: null,
          checkpoint: { cursor: 'c1' },
          account: { id: 'acc-1' },
          lastError: { kind: 'RateLimitedError', message: 'HTTP 429' },
        });
        expect(await store.nextWakeAt()).toEqual(new Date(T0 + 30 * SECOND));
        expect(await claim(store, { now: new Date(T0 + 30 * SECOND - 1) })).toEqual([]);
        const [retried] = await claim(store, { now: new Date(T0 + 30 * SECOND) });
        expect(await finish(store, 'w1', retried!, retryAt(T0 + MINUTE))).toBe(true);
        expect(await store.getTask(task.id)).toMatchObject({ state: 'pending', attempts: 1, rateLimitedCount: 1 });
      });

      it('settles the termination: revoked when the critical tasks are done, completed when all are', async () => {
        const t = newTermination(now);
        const disable = newTask('disable');
        const revoke = newTask('revoke', { provider: 'google', action: 'revoke_sessions' });
        const notify = newTask('notify', { action: 'notify', critical: false, dependsOn: ['disable'] });
        await store.createTermination(t, [disable, revoke, notify]);

        await runTask(disable.id, succeeded);
        expect(await store.getTermination(t.id)).toMatchObject({ state: 'running', revokedAt: null });
        now = T0 + 5 * SECOND;
        await runTask(revoke.id, skipped);
        expect(await store.getTermination(t.id)).toMatchObject({
          state: 'running',
          revokedAt: new Date(T0 + 5 * SECOND),
          finishedAt: null,
        });
        now = T0 + 9 * SECOND;
        await runTask(notify.id, succeeded);
        expect(await store.getTermination(t.id)).toMatchObject({
          state: 'completed',
          revokedAt: new Date(T0 + 5 * SECOND),
          finishedAt: new Date(T0 + 9 * SECOND),
        });
        const actions = (await store.listAudit(0, 100)).map((a) => a.action);
        expect(actions).toEqual([
          'termination.created',
          'task.succeeded',
          'task.skipped',
          'termination.revoked',
          'task.succeeded',
          'termination.completed',
        ]);
        const revoked = (await store.listAudit(0, 100)).find((a) => a.action === 'termination.revoked');
        expect(revoked!.data).toEqual({ timeToRevokeMs: 5 * SECOND });
      });

      it('fails the termination when a task fails, and a replay runs it to completion', async () => {
        const t = newTermination(now);
        const disable = newTask('disable');
        const notify = newTask('notify', { action: 'notify', critical: false });
        await store.createTermination(t, [disable, notify]);
        await runTask(disable.id, failed);
        // Its other tasks still run: not failed (nor finished) while they do.
        expect(await store.getTermination(t.id)).toMatchObject({ state: 'running', revokedAt: null, finishedAt: null });
        expect(await store.getTask(disable.id)).toMatchObject({
          state: 'failed',
          attempts: 1,
          lastError: failed.state === 'failed' ? failed.error : null,
        });
        now = T0 + MINUTE;
        await runTask(notify.id, succeeded);
        expect(await store.getTermination(t.id)).toMatchObject({ state: 'failed', finishedAt: new Date(T0 + MINUTE) });

        now = T0 + HOUR;
        const replayed = await store.replayFailedTasks(t.id, null, 'admin:alice');
        expect(replayed.map((x) => [x.id, x.state, x.attempts])).toEqual([[disable.id, 'pending', 0]]);
        expect(await store.getTermination(t.id)).toMatchObject({ state: 'running', finishedAt: null });
        expect((await store.listAudit(0, 100)).at(-1)).toMatchObject({ action: 'task.replayed', actor: 'admin:alice', taskId: disable.id });
        expect(await store.replayFailedTasks(t.id, null, 'admin:alice')).toEqual([]);

        await runTask(disable.id, succeeded);
        expect(await store.getTermination(t.id)).toMatchObject({ state: 'completed', revokedAt: new Date(T0 + HOUR) });
      });

      it('replays from the start: progress an earlier attempt recorded is dropped', async () => {
        const t = newTermination(now);
        const task = newTask('revoke', { action: 'revoke_sessions' });
        await store.createTermination(t, [task]);
        await runTask(task.id, {
          ...(retryAt(now) as Extract<AttemptOutcome, { state: 'pending' }>),
          checkpoint: { sessionsRevoked: true },
        });
        expect((await store.getTask(task.id))!.checkpoint).toEqual({ sessionsRevoked: true });
        await runTask(task.id, failed);
        const [replayed] = await store.replayFailedTasks(t.id, task.id, 'admin:alice');
        expect(replayed).toMatchObject({ state: 'pending', checkpoint: null });
      });

      it('replays only the named task when given one', async () => {
        const t = newTermination(now);
        const a = newTask('a');
        const b = newTask('b');
        await store.createTermination(t, [a, b]);
        await runTask(a.id, failed);
        await runTask(b.id, failed);
        expect((await store.replayFailedTasks(t.id, b.id, 'admin:bob')).map((x) => x.id)).toEqual([b.id]);
        expect((await store.getTask(a.id))!.state).toBe('failed');
      });
    });

    describe('settlement: the destructive rule, waivers, honest state', () => {
      /** Okta's steps of the employee playbook: the delete waits only for remove-groups by its own `after` list. */
      const oktaSteps = () => {
        const revoke = newTask('okta-revoke-sessions', { action: 'revoke_sessions' });
        const suspend = newTask('okta-suspend');
        const groups = newTask('okta-remove-groups', { action: 'remove_groups', critical: false, dependsOn: ['okta-suspend'] });
        const remove = newTask('okta-delete', {
          action: 'delete_account',
          critical: false,
          dependsOn: ['okta-remove-groups'],
          notBefore: new Date(T0 + DAY),
        });
        return { revoke, suspend, groups, remove };
      };

      it('never releases a delete while another task at its provider retries or failed, not even by a replay (issue 23, case 4)', async () => {
        const t = newTermination(now);
        const { revoke, suspend, groups, remove } = oktaSteps();
        const elsewhere = newTask('google-delete', {
          provider: 'google',
          action: 'delete_account',
          critical: false,
          notBefore: new Date(T0 + DAY),
        });
        await store.createTermination(t, [revoke, suspend, groups, remove, elsewhere]);
        await runTask(suspend.id, failed);
        await runTask(revoke.id, retryAt(T0 + 2 * DAY));

        now = T0 + HOUR;
        expect((await store.replayFailedTasks(t.id, suspend.id, 'admin:alice')).map((x) => x.id)).toEqual([suspend.id]);
        await runTask(suspend.id, succeeded);
        await runTask(groups.id, succeeded);

        // The retention has passed and the delete's own dependencies are done, but revoke still retries.
        now = T0 + DAY + MINUTE;
        expect(await claim(store)).toEqual([]);
        // The rule is per provider: Google's delete is not held back by Okta.
        expect((await claim(store, { provider: 'google' })).map((x) => x.id)).toEqual([elsewhere.id]);
        expect(await store.nextWakeAt(['okta'])).toEqual(new Date(T0 + 2 * DAY));

        now = T0 + 2 * DAY;
        const claimedNow = await claim(store, { limit: 10 });
        expect(claimedNow.map((x) => x.id)).toEqual([revoke.id]);
        expect(await finish(store, 'w1', claimedNow[0]!, failed)).toBe(true);
        expect(await claim(store, { now: new Date(T0 + 365 * DAY) })).toEqual([]);
        expect(await store.nextWakeAt(['okta'])).toBeNull();
        expect((await store.getTask(remove.id))!.state).toBe('pending');
      });

      it('does not hold a destructive step back for another destructive step at its provider', async () => {
        const t = newTermination(now);
        const first = newTask('okta-delete', { action: 'delete_account', critical: false });
        const second = newTask('okta-delete-again', { action: 'delete_account', critical: false });
        await store.createTermination(t, [first, second]);
        expect((await claim(store)).map((x) => x.id).sort()).toEqual([first.id, second.id].sort());
      });

      it("waives a failed task: audited with who and why, its dependants and the provider's delete run, and the termination completes with waivers", async () => {
        const t = newTermination(now);
        const { revoke, suspend, groups, remove } = oktaSteps();
        await store.createTermination(t, [revoke, suspend, groups, remove]);
        await store.createTermination(newTermination(now), [newTask('unrelated', { provider: 'google' })]);
        await runTask(suspend.id, failed);
        // What the failed-task alert counts, found whatever the termination's state (still running here).
        expect((await store.listTerminations({ withFailedTasks: true, limit: 10 })).items.map((x) => [x.id, x.state])).toEqual([
          [t.id, 'running'],
        ]);
        await runTask(revoke.id, succeeded);
        expect(await store.getTermination(t.id)).toMatchObject({ state: 'failed', finishedAt: new Date(T0) });

        now = T0 + HOUR;
        const woke = nextWake(store);
        const result = await store.waiveTask(t.id, suspend.id, 'admin:alice', 'suspended by hand in the Okta console');
        await woke;
        expect(result!.task).toMatchObject({
          id: suspend.id,
          state: 'waived',
          lastError: failed.state === 'failed' ? failed.error : null,
          evidence: { waivedBy: 'admin:alice', reason: 'suspended by hand in the Okta console', at: new Date(T0 + HOUR).toISOString() },
        });
        // Its dependant may run now, so the termination is running again, with no finished time.
        expect(result!.termination).toMatchObject({ state: 'running', finishedAt: null, revokedAt: null });
        expect((await store.listAudit(0, 100)).filter((e) => e.action === 'task.waived')).toMatchObject([
          {
            actor: 'admin:alice',
            taskId: suspend.id,
            data: { reason: 'suspended by hand in the Okta console', provider: 'okta', action: 'disable_account' },
          },
        ]);

        expect((await store.listTerminations({ withFailedTasks: true, limit: 10 })).items).toEqual([]);
        await runTask(groups.id, succeeded);
        now = T0 + DAY;
        await runTask(remove.id, succeeded);
        // Access was never verified gone at the waived step: no revocation time, and a state of its own.
        expect(await store.getTermination(t.id)).toMatchObject({
          state: 'completed_with_waivers',
          finishedAt: new Date(T0 + DAY),
          revokedAt: null,
        });
        expect((await store.stats(new Date(now))).terminations.find((x) => x.state === 'completed_with_waivers')).toEqual({
          state: 'completed_with_waivers',
          count: 1,
        });
        expect((await store.listTerminations({ state: 'completed_with_waivers', limit: 10 })).items.map((x) => x.id)).toEqual([t.id]);
        expectLinearChain(await linkedChain(store));
      });

      it('waives only a failed task of that termination, and nothing of a cancelled one', async () => {
        const t = newTermination(now);
        const a = newTask('a');
        const b = newTask('b');
        await store.createTermination(t, [a, b]);
        expect(await store.waiveTask(t.id, a.id, 'admin:alice', 'why')).toBeNull();
        await runTask(a.id, failed);
        const other = newTermination(now);
        await store.createTermination(other, [newTask('a')]);
        expect(await store.waiveTask(other.id, a.id, 'admin:alice', 'wrong termination')).toBeNull();
        expect((await store.getTask(a.id))!.state).toBe('failed');

        await store.cancelTermination(t.id, 'admin:alice', 'rehired');
        expect(await store.waiveTask(t.id, a.id, 'admin:alice', 'too late')).toBeNull();
        expect((await store.listAudit(0, 100)).map((e) => e.action)).not.toContain('task.waived');
      });

      it('lets exactly one of a waiver and a replay racing for one failed task win', async () => {
        const replicas = await db.replicas(4);
        const cases: Array<{ id: string; task: string }> = [];
        for (let i = 0; i < 6; i += 1) {
          const t = newTermination(now);
          const task = newTask('okta-suspend');
          await store.createTermination(t, [task]);
          await runTask(task.id, failed);
          cases.push({ id: t.id, task: task.id });
        }
        await Promise.all(
          cases.flatMap((c, i) => [
            replicas[i % 4]!.waiveTask(c.id, c.task, 'admin:alice', 'done by hand'),
            replicas[(i + 1) % 4]!.replayFailedTasks(c.id, c.task, 'admin:bob'),
            replicas[(i + 2) % 4]!.waiveTask(c.id, c.task, 'admin:carol', 'done by hand too'),
          ]),
        );
        for (const c of cases) {
          const actions = (await store.listAuditOf(c.id)).map((e) => e.action).filter((a) => a === 'task.waived' || a === 'task.replayed');
          const task = (await store.getTask(c.task))!;
          expect(actions, c.id).toHaveLength(1);
          expect(task.state).toBe(actions[0] === 'task.waived' ? 'waived' : 'pending');
          expect((await store.getTermination(c.id))!.state).toBe(actions[0] === 'task.waived' ? 'completed_with_waivers' : 'running');
        }
        expectLinearChain(await linkedChain(store));
      });

      it('is failed only once nothing can move without an operator: tasks behind a failure do not count as running', async () => {
        const t = newTermination(now);
        const { revoke, suspend, groups, remove } = oktaSteps();
        const manual = newTask('collect-laptop', { provider: 'manual', action: 'manual', critical: false });
        await store.createTermination(t, [revoke, suspend, groups, remove, manual]);
        await runTask(suspend.id, failed);
        // Revoke is still waiting for its retry, and a person still has a step to do.
        await runTask(revoke.id, retryAt(T0 + MINUTE));
        expect(await store.getTermination(t.id)).toMatchObject({ state: 'running', finishedAt: null });
        now = T0 + MINUTE;
        await runTask(revoke.id, succeeded);
        expect(await store.getTermination(t.id)).toMatchObject({ state: 'running', finishedAt: null });
        now = T0 + 2 * MINUTE;
        await store.completeManualTask(manual.id, 'admin:bob', 'done', 'laptop returned');
        // Left: remove-groups behind the failed suspend, and the delete behind both. Nothing moves without an operator.
        expect(await store.getTermination(t.id)).toMatchObject({ state: 'failed', finishedAt: new Date(T0 + 2 * MINUTE) });
        expect((await store.listAudit(0, 100)).filter((e) => e.action === 'termination.failed')).toHaveLength(1);
      });
    });

    describe('cancelTermination', () => {
      it('cancels every task not yet run and stops them from being claimed', async () => {
        const t = newTermination(now);
        const running = newTask('disable');
        const pending = newTask('revoke', { action: 'revoke_sessions', notBefore: new Date(T0 + HOUR) });
        const later = newTask('delete', { provider: 'google', action: 'delete_account', notBefore: new Date(T0 + 30 * DAY) });
        await store.createTermination(t, [running, pending, later]);
        const [claimed] = await claim(store, { leaseMs: 400 * DAY });
        const cancelled = await store.cancelTermination(t.id, 'admin:alice', 'rehired');
        expect(cancelled).toMatchObject({ state: 'cancelled', finishedAt: new Date(now) });
        expect((await store.listTasks(t.id)).map((x) => [x.id, x.state])).toEqual([
          [running.id, 'running'],
          [pending.id, 'cancelled'],
          [later.id, 'cancelled'],
        ]);
        for (const provider of ['okta', 'google']) {
          expect(await claim(store, { provider, now: new Date(T0 + 365 * DAY) })).toEqual([]);
        }
        expect((await store.listAudit(0, 10)).at(-1)).toMatchObject({
          action: 'termination.cancelled',
          actor: 'admin:alice',
          data: { reason: 'rehired', previousState: 'running', tasksCancelled: 2 },
        });
        // The task that was already running reports in; the termination stays cancelled.
        expect(await finish(store, 'w1', claimed!, succeeded)).toBe(true);
        expect((await store.getTermination(t.id))!.state).toBe('cancelled');
        expect(await store.cancelTermination('no-such-termination', 'admin:alice', 'x')).toBeNull();
      });

      it('cancels a running task that comes back for a retry after the cancellation', async () => {
        const t = newTermination(now);
        const task = newTask('disable');
        await store.createTermination(t, [task]);
        const [claimed] = await claim(store);
        await store.cancelTermination(t.id, 'admin:alice', 'rehired');
        expect(await finish(store, 'w1', claimed!, retryAt(T0 + MINUTE))).toBe(true);
        expect(await store.getTask(task.id)).toMatchObject({ state: 'cancelled', leaseOwner: null });
        expect(await store.nextWakeAt()).toBeNull();
      });

      it('ends a task cancelled while its worker was dead once the lease expires', async () => {
        const t = newTermination(now);
        const task = newTask('disable');
        await store.createTermination(t, [task]);
        await claim(store);
        await store.cancelTermination(t.id, 'admin:alice', 'rehired');
        // The worker never reports; its lease runs out; the next claim pass tidies up.
        expect(await claim(store, { now: new Date(T0 + HOUR) })).toEqual([]);
        expect(await store.getTask(task.id)).toMatchObject({ state: 'cancelled', leaseOwner: null });
        expect((await store.listAudit(0, 100)).at(-1)).toMatchObject({ action: 'task.cancelled', actor: 'engine', taskId: task.id });
        expect(await store.nextWakeAt()).toBeNull();
      });

      it('leaves a finished termination as it is', async () => {
        const t = newTermination(now);
        const task = newTask('disable');
        await store.createTermination(t, [task]);
        await runTask(task.id, succeeded);
        expect((await store.cancelTermination(t.id, 'admin:alice', 'late'))!.state).toBe('completed');
        expect((await store.getTask(task.id))!.state).toBe('succeeded');
      });

      it('stays consistent when cancellations race with workers finishing tasks', async () => {
        const replicas = await db.replicas(4);
        const cases: Array<{ id: string; tasks: Task[] }> = [];
        for (let i = 0; i < 10; i += 1) {
          const t = newTermination(now);
          await store.createTermination(t, [newTask('disable'), newTask('revoke', { action: 'revoke_sessions' })]);
        }
        for (const claimed of await claim(store, { limit: 100 })) {
          const entry = cases.find((c) => c.id === claimed.terminationId);
          if (entry) entry.tasks.push(claimed);
          else cases.push({ id: claimed.terminationId, tasks: [claimed] });
        }
        expect(cases).toHaveLength(10);
        await Promise.all(
          cases.flatMap((c, i) => [
            replicas[i % 4]!.cancelTermination(c.id, 'admin:alice', 'rehired'),
            finish(replicas[(i + 1) % 4]!, 'w1', c.tasks[0]!, succeeded),
            finish(replicas[(i + 2) % 4]!, 'w1', c.tasks[1]!, retryAt(T0 + MINUTE)),
          ]),
        );
        for (const c of cases) {
          const termination = await store.getTermination(c.id);
          const states = (await store.listTasks(c.id)).map((x) => x.state).sort();
          // Either the cancellation or the finished tasks came first; never a task left waiting under a closed case.
          expect(['cancelled', 'completed'], c.id).toContain(termination!.state);
          expect(states).not.toContain('pending');
          expect(states).not.toContain('running');
        }
        expectLinearChain(await linkedChain(store));
      });
    });

    describe('nextWakeAt', () => {
      it('returns the earliest due time or lease expiry, ignoring blocked tasks', async () => {
        expect(await store.nextWakeAt()).toBeNull();
        await store.createTermination(newTermination(now), [
          newTask('late', { notBefore: new Date(T0 + HOUR) }),
          newTask('blocked', { notBefore: new Date(T0 + MINUTE), dependsOn: ['late'] }),
        ]);
        await store.createTermination(newTermination(now, { state: 'held' }), [newTask('held', { notBefore: new Date(T0) })]);
        expect(await store.nextWakeAt()).toEqual(new Date(T0 + HOUR));

        await store.createTermination(newTermination(now), [newTask('now', { notBefore: new Date(T0 + 10 * SECOND) })]);
        expect(await store.nextWakeAt()).toEqual(new Date(T0 + 10 * SECOND));
        await claim(store, { now: new Date(T0 + 10 * SECOND), leaseMs: 20 * SECOND });
        expect(await store.nextWakeAt()).toEqual(new Date(T0 + 30 * SECOND));
      });
    });

    describe('listTerminations', () => {
      it('pages newest first with a cursor, and filters', async () => {
        const created: NewTermination[] = [];
        for (let i = 0; i < 5; i += 1) created.push(newTermination(T0 + i * MINUTE));
        // Two at the same instant: the id breaks the tie, so no page repeats or skips one.
        created.push(newTermination(T0 + 2 * MINUTE), newTermination(T0 + 2 * MINUTE));
        for (const t of created) await store.createTermination(t, [newTask('disable')]);
        const expected = created
          .slice()
          .sort((a, b) => b.requestedAt.getTime() - a.requestedAt.getTime() || (a.id < b.id ? 1 : -1))
          .map((t) => t.id);

        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listTerminations({ limit: 2, ...(cursor ? { cursor } : {}) });
          seen.push(...page.items.map((t) => t.id));
          cursor = page.nextCursor ?? undefined;
          pages += 1;
        } while (cursor);
        expect(seen).toEqual(expected);
        expect(pages).toBe(4);

        await store.cancelTermination(created[0]!.id, 'admin:alice', 'rehired');
        expect((await store.listTerminations({ state: 'cancelled', limit: 10 })).items.map((t) => t.id)).toEqual([created[0]!.id]);
        expect((await store.listTerminations({ subjectKey: created[3]!.subjectKey, limit: 10 })).items.map((t) => t.id)).toEqual([
          created[3]!.id,
        ]);
        const window = await store.listTerminations({ since: new Date(T0 + MINUTE), until: new Date(T0 + 3 * MINUTE), limit: 10 });
        expect(window.items.map((t) => t.requestedAt.getTime())).toEqual([2, 2, 2, 1].map((m) => T0 + m * MINUTE));
        expect(window.nextCursor).toBeNull();
        await expect(store.listTerminations({ limit: 2, cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(InvalidCursorError);
      });

      it('finds a subject by an identifier equal to the search (user names and emails ignoring case) or by a part of its id; filters by source', async () => {
        const ada = newTermination(T0, {
          source: 'scim',
          subject: {
            userName: 'Ada.Lovelace@Example.com',
            externalId: 'HR-1815',
            displayName: 'Ada Lovelace',
            emails: ['ada@analytical.example'],
          },
        });
        const grace = newTermination(T0 + MINUTE, {
          source: 'admin',
          subject: { externalId: 'HR-1906', emails: ['grace_hopper@navy.example', 'amazing@grace.example'] },
        });
        const percent = newTermination(T0 + 2 * MINUTE, { subject: { userName: '100%_sure', emails: [] } });
        for (const t of [ada, grace, percent]) await store.createTermination(t, [newTask('disable')]);
        const ids = async (filter: { search?: string; source?: 'scim' | 'webhook' | 'admin' }) =>
          (await store.listTerminations({ ...filter, limit: 10 })).items.map((t) => t.id);

        // Subjects are sealed at rest: found by the blind index of a whole identifier, never by a part of one.
        expect(await ids({ search: 'ada.lovelace@EXAMPLE.com' })).toEqual([ada.id]);
        expect(await ids({ search: 'lovelace@example' })).toEqual([]);
        expect(await ids({ search: 'HR-1906' })).toEqual([grace.id]);
        expect(await ids({ search: 'hr-1906' }), 'an HRIS id is exact').toEqual([]);
        expect(await ids({ search: 'HR-1' })).toEqual([]);
        expect(await ids({ search: 'Ada Lovelace' }), 'a display name is not an identifier').toEqual([]);
        expect(await ids({ search: 'amazing@GRACE.example' })).toEqual([grace.id]);
        expect(await ids({ search: ada.id.slice(-6) })).toEqual([ada.id]);
        // Wildcards are characters: '_' does not stand for any one character, '%' not for any run.
        expect(await ids({ search: 'grace_hopper@navy.example' })).toEqual([grace.id]);
        expect(await ids({ search: 'grace-hopper@navy.example' })).toEqual([]);
        expect(await ids({ search: '%' })).toEqual([]);
        expect(await ids({ search: '100%_SURE' })).toEqual([percent.id]);
        expect(await ids({ search: "a' or '1'='1" })).toEqual([]);
        expect(await ids({ search: 'userName' })).toEqual([]);
        expect(await ids({ search: 'emails' })).toEqual([]);
        expect(await ids({ source: 'scim' })).toEqual([ada.id]);
        expect(await ids({ source: 'admin', search: 'HR-1906' })).toEqual([grace.id]);
        expect(await ids({ source: 'webhook', search: 'HR-1906' })).toEqual([]);
      });
    });

    describe('stats', () => {
      it('counts tasks and terminations and ages the oldest due task', async () => {
        const t = newTermination(now);
        await store.createTermination(t, [
          newTask('a', { notBefore: new Date(T0 - MINUTE) }),
          newTask('b', { notBefore: new Date(T0) }),
          newTask('c', { provider: 'google', action: 'delete_account', notBefore: new Date(T0 + DAY) }),
        ]);
        await store.createTermination(newTermination(now, { state: 'held' }), [newTask('h', { notBefore: new Date(T0 - HOUR) })]);
        await claim(store, { limit: 1 });
        const stats = await store.stats(new Date(T0 + 10 * SECOND));
        const byKey = (rows: object[]) => rows.map((r) => JSON.stringify(r)).sort();
        expect(byKey(stats.tasks)).toEqual(
          byKey([
            { provider: 'okta', action: 'disable_account', state: 'running', count: 1 },
            { provider: 'okta', action: 'disable_account', state: 'pending', count: 2 },
            { provider: 'google', action: 'delete_account', state: 'pending', count: 1 },
          ]),
        );
        expect(byKey(stats.terminations)).toEqual(
          byKey([
            { state: 'running', count: 1 },
            { state: 'held', count: 1 },
          ]),
        );
        // The held task is older, but waits for an operator, not for a worker.
        expect(stats.oldestDueTaskAgeSeconds).toBe(10);
        expect(stats.heldTerminations).toBe(1);
      });

      it('counts pending steps their adapter reported overdue, per provider and action, and only those', async () => {
        const tasks = ['owed', 'due-later', 'quoted'].map((id) => newTask(id, { provider: 'billing', action: 'settle_billing' }));
        await store.createTermination(newTermination(now), tasks);
        const waiting = (checkpoint: JsonObject): AttemptOutcome => ({
          state: 'pending',
          nextAttemptAt: new Date(T0 + HOUR),
          error: null,
          countsAsAttempt: false,
          rateLimited: false,
          checkpoint,
          account: { id: 'cus_1' },
        });
        await runTask(tasks[0]!.id, waiting({ waitingFor: 'overdue: 1 invoice open', overdue: true }));
        await runTask(tasks[1]!.id, waiting({ waitingFor: 'payment due by …', overdue: false }));
        // The words in a string are not the flag.
        await runTask(tasks[2]!.id, waiting({ note: '"overdue":true' }));
        expect((await store.stats(new Date(now))).waitingOverdue).toEqual([{ provider: 'billing', action: 'settle_billing', count: 1 }]);
      });
    });

    describe('audit chain', () => {
      it('links every entry to the one before and recomputes', async () => {
        const t = newTermination(now);
        const task = newTask('disable');
        await store.createTermination(t, [task]);
        await store.appendAudit({ actor: 'admin:alice', action: 'termination.viewed', terminationId: t.id, data: { b: 1, a: [1, 'x'] } });
        await runTask(task.id, succeeded);
        const entries = await linkedChain(store, 100);
        expect(entries.length).toBeGreaterThanOrEqual(4);
        expectLinearChain(entries);
        expect(await store.listAudit(entries[1]!.position!, 2)).toEqual(entries.slice(2, 4));
      });

      it('stays linear when replicas append at once', async () => {
        const replicas = await db.replicas(6);
        await Promise.all(
          replicas.flatMap((replica, i) => [
            ...Array.from({ length: 8 }, (_, j) => replica.appendAudit({ actor: `replica-${i}`, action: 'test.append', data: { j } })),
            replica.createTermination(newTermination(now), [newTask('disable')]),
          ]),
        );
        // Every replica's linker at once: one links, the others wait or find nothing left.
        await Promise.all(replicas.map((replica) => replica.linkAudit()));
        const entries = await store.listAudit(0, 1_000);
        expect(entries).toHaveLength(6 * 9);
        expectLinearChain(entries);
        expect(new Set(entries.map((e) => e.prevHash)).size).toBe(entries.length);
      });

      it('appends without linking: entries wait, unlinked and listed last, until the linker runs', async () => {
        await store.appendAudit({ actor: 'admin:alice', action: 'test.first' });
        await store.linkAudit();
        const t = newTermination(now);
        await store.createTermination(t, [newTask('disable')]);
        await store.appendAudit({ actor: 'admin:alice', action: 'test.third', terminationId: t.id });

        expect(await store.countUnlinkedAudit()).toBe(2);
        const before = await store.listAudit(0, 10);
        expect(before.map((e) => [e.action, e.position, e.hash === null])).toEqual([
          ['test.first', 1, false],
          ['termination.created', null, true],
          ['test.third', null, true],
        ]);
        expect((await store.listAuditOf(t.id)).map((e) => e.position)).toEqual([null, null]);

        expect(await store.linkAudit()).toEqual({ linked: 2 });
        expect(await store.countUnlinkedAudit()).toBe(0);
        const after = await store.listAudit(0, 10);
        expectLinearChain(after);
        expect(after.map((e) => e.action)).toEqual(['test.first', 'termination.created', 'test.third']);
        expect((await store.listAuditOf(t.id)).map((e) => e.position)).toEqual([2, 3]);
        expect(await store.linkAudit()).toEqual({ linked: 0 });
      });

      it('links an entry that becomes visible after a later seq was linked, at the next position, without a gap', async () => {
        // On PostgreSQL a sequence hands out seq 10 before 11, and 11 may commit first. Here the
        // late entry is written with a lower seq than one already linked, which is what the linker sees then.
        const kysely = internalDb(store);
        await store.appendAudit({ actor: 'admin:alice', action: 'test.early' });
        const early = (await store.listAudit(0, 10))[0]!;
        await kysely
          .insertInto('audit_log')
          .values(rawEntry(early.seq + 10, 'test.seq_plus_10'))
          .execute();
        expect(await store.linkAudit()).toEqual({ linked: 2 });
        await kysely
          .insertInto('audit_log')
          .values(rawEntry(early.seq + 5, 'test.seq_plus_5_seen_late'))
          .execute();
        expect(await store.linkAudit()).toEqual({ linked: 1 });

        const entries = await store.listAudit(0, 10);
        expectLinearChain(entries);
        expect(entries.map((e) => [e.action, e.seq - early.seq])).toEqual([
          ['test.early', 0],
          ['test.seq_plus_10', 10],
          ['test.seq_plus_5_seen_late', 5],
        ]);
      });

      it('links in the background shortly after an append once started, and stops on close', async () => {
        const [background] = await db.replicas(1);
        background!.startAuditLinker();
        for (let i = 0; i < 3; i += 1) await background!.appendAudit({ actor: 'admin:alice', action: 'test.background', data: { i } });
        await pollUntil(
          async () => (await store.countUnlinkedAudit()) === 0,
          () => 'the background linker did not link the entries',
          5_000,
        );
        expectLinearChain(await store.listAudit(0, 10));
      });
    });
  });
}

/** The store's Kysely handle, for tests that write rows no store method writes. */
function internalDb(store: Store): Kysely<Database> {
  return (store as unknown as { db: Kysely<Database> }).db;
}

function rawEntry(seq: number, action: string) {
  return {
    seq,
    at: T0,
    actor: 'admin:alice',
    action,
    termination_id: null,
    task_id: null,
    data: '{}',
    prev_hash: null,
    hash: null,
    chain_pos: null,
  };
}
