import { afterEach, describe, expect, it } from 'vitest';
import { PermanentError, RateLimitedError, TransientError, VerificationError, withCheckpoint } from '../src/domain/errors.ts';
import { FakeProvider } from './helpers/fake-provider.ts';
import { allIn, createHarness, type Harness } from './helpers/engine-harness.ts';
import { pollUntil } from './helpers/poll.ts';

const subject = (n: string) => ({ userName: `${n}@example.com`, emails: [`${n}@example.com`] });
const fastRetry = { retry: { baseDelay: 10, maxDelay: 50, maxAttempts: 3 } };

let harness: Harness | null = null;
afterEach(async () => {
  await harness?.close();
  harness = null;
});

describe('Engine', () => {
  it('runs resolve -> execute -> verify and records evidence and revokedAt', async () => {
    const idp = new FakeProvider('idp', ['revoke_sessions', 'disable_account']);
    harness = await createHarness([idp], {
      playbooks: {
        default: {
          steps: [
            { id: 'revoke', provider: 'idp', action: 'revoke_sessions' },
            { id: 'disable', provider: 'idp', action: 'disable_account' },
          ],
        },
      },
    });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('a'), actor: 'test' });
    const tasks = await harness.waitForTasks(termination.id, allIn('succeeded'));
    expect(tasks.map((t) => t.evidence?.verify)).toEqual(
      expect.arrayContaining([{ verified: 'revoke_sessions' }, { verified: 'disable_account' }]),
    );
    const done = await harness.store.getTermination(termination.id);
    expect(done?.state).toBe('completed');
    expect(done?.revokedAt).not.toBeNull();
    // verify ran after execute for each action
    for (const action of ['revoke_sessions', 'disable_account'] as const) {
      expect(idp.calls.filter((c) => c.action === action).map((c) => c.phase)).toEqual(['execute', 'verify']);
    }
    // Both tasks are at one provider: the subject was looked up there once, for both.
    expect(idp.resolves).toBe(1);
    expect(tasks.map((t) => t.account)).toEqual([{ id: 'acct-1' }, { id: 'acct-1' }]);
  });

  it('honours Retry-After: the retry waits for it and does not use an attempt', async () => {
    const idp = new FakeProvider('idp', ['disable_account']).script('disable_account', {
      kind: 'throw',
      error: new RateLimitedError('429', 300),
    });
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'disable', provider: 'idp', action: 'disable_account' }] } },
      engine: fastRetry,
    });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('b'), actor: 'test' });
    const [task] = await harness.waitForTasks(termination.id, allIn('succeeded'));
    const executions = idp.calls.filter((c) => c.phase === 'execute');
    expect(executions).toHaveLength(2);
    expect(executions[1]!.at - executions[0]!.at).toBeGreaterThanOrEqual(300);
    expect(task!.attempts).toBe(1);
    expect(task!.rateLimitedCount).toBe(1);
  });

  it('retries a transient error and a failed verification, then succeeds', async () => {
    const idp = new FakeProvider('idp', ['disable_account']).script(
      'disable_account',
      { kind: 'throw', error: new TransientError('503') },
      { kind: 'verifyFails', error: new VerificationError('still active', { status: 'ACTIVE' }) },
    );
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'disable', provider: 'idp', action: 'disable_account' }] } },
      engine: fastRetry,
    });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('c'), actor: 'test' });
    const [task] = await harness.waitForTasks(termination.id, allIn('succeeded'));
    expect(idp.executions()).toBe(3);
    const attempts = await harness.store.listAttempts(termination.id);
    expect(attempts.map((a) => [a.outcome, a.errorKind])).toEqual([
      ['retry', 'transient'],
      ['retry', 'verification'],
      ['succeeded', null],
    ]);
    expect(task!.attempts).toBe(3);
  });

  it('after a read-back interrupted by a rate limit, the retry only reads back: the writes are not sent again', async () => {
    const idp = new FakeProvider('idp', ['revoke_sessions']).script('revoke_sessions', {
      kind: 'verifyFails',
      error: new RateLimitedError('429 on the read-back', 50),
    });
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'revoke', provider: 'idp', action: 'revoke_sessions' }] } },
      engine: fastRetry,
    });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('readback'), actor: 'test' });
    const [task] = await harness.waitForTasks(termination.id, allIn('succeeded'));
    expect(idp.calls.map((c) => c.phase)).toEqual(['execute', 'verify', 'verify']);
    expect(task!.evidence).toMatchObject({ execute: { done: 'revoke_sessions' }, verify: { verified: 'revoke_sessions' } });
  });

  it('when the read-back-only retry finds the writes did not hold, it writes again in the same attempt', async () => {
    const idp = new FakeProvider('idp', ['disable_account']).script(
      'disable_account',
      { kind: 'verifyFails', error: new RateLimitedError('429 on the read-back', 50) },
      { kind: 'ok' },
    );
    // The second verify (read-back only) disagrees: the provider lied about the first write.
    let verifies = 0;
    const verify = idp.actions.disable_account!.verify;
    idp.actions.disable_account!.verify = async (account, ctx) => {
      verifies += 1;
      if (verifies === 2) throw new VerificationError('still enabled', { enabled: true });
      return verify(account, ctx);
    };
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'disable', provider: 'idp', action: 'disable_account' }] } },
      engine: fastRetry,
    });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('lied-then-429'), actor: 'test' });
    const [task] = await harness.waitForTasks(termination.id, allIn('succeeded'));
    expect(idp.executions()).toBe(2);
    expect(verifies).toBe(3);
    expect(task!.attempts).toBe(1);
    expect(await harness.store.listAttempts(termination.id)).toHaveLength(2);
  });

  it('fails a task on a permanent error without retrying, and marks the termination failed', async () => {
    const idp = new FakeProvider('idp', ['disable_account']).script('disable_account', {
      kind: 'throw',
      error: new PermanentError('403 missing scope'),
    });
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'disable', provider: 'idp', action: 'disable_account' }] } },
      engine: fastRetry,
    });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('d'), actor: 'test' });
    const [task] = await harness.waitForTasks(termination.id, allIn('failed'));
    expect(idp.executions()).toBe(1);
    expect(task!.lastError).toEqual({ kind: 'permanent', message: '403 missing scope' });
    expect((await harness.store.getTermination(termination.id))?.state).toBe('failed');
  });

  it('a lying provider never ends succeeded: verification keeps failing until attempts run out', async () => {
    const lie = () => ({ kind: 'verifyFails' as const, error: new VerificationError('status ACTIVE', { status: 'ACTIVE' }) });
    const idp = new FakeProvider('idp', ['disable_account']).script('disable_account', lie(), lie(), lie(), lie());
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'disable', provider: 'idp', action: 'disable_account' }] } },
      engine: fastRetry,
    });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('lie'), actor: 'test' });
    const [task] = await harness.waitForTasks(termination.id, allIn('failed'));
    expect(task!.lastError?.kind).toBe('verification');
    expect(idp.executions()).toBe(3);
  });

  it('skips a task when the subject has no account at the provider', async () => {
    const idp = new FakeProvider('idp', ['disable_account']);
    idp.hasAccount = false;
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'disable', provider: 'idp', action: 'disable_account' }] } },
    });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('e'), actor: 'test' });
    const [task] = await harness.waitForTasks(termination.id, allIn('skipped'));
    expect(task!.evidence).toMatchObject({ skipped: expect.stringContaining('no account') });
    expect(idp.executions()).toBe(0);
    expect((await harness.store.getTermination(termination.id))?.state).toBe('completed');
  });

  it('starts the attempts of a pass longest first, by how long that provider action took before', async () => {
    const quick = new FakeProvider('quick', ['revoke_sessions']);
    const slow = new FakeProvider('slow', ['deactivate_badge']).script(
      'deactivate_badge',
      { kind: 'hang', ms: 80 },
      { kind: 'hang', ms: 80 },
    );
    harness = await createHarness([quick, slow], {
      playbooks: {
        default: {
          steps: [
            { id: 'revoke', provider: 'quick', action: 'revoke_sessions' },
            { id: 'badge', provider: 'slow', action: 'deactivate_badge' },
          ],
        },
      },
    });
    const started: string[] = [];
    harness.events.on('task:started', (e) => started.push(e.provider));
    harness.engine().start();
    for (const name of ['first', 'second']) {
      const { termination } = await harness.service.submit({ source: 'admin', subject: subject(name), actor: 'test' });
      await harness.waitForTasks(termination.id, allIn('succeeded'));
    }
    // Nothing measured yet: claim order (the providers' order). Then the slow action first.
    expect(started).toEqual(['quick', 'slow', 'slow', 'quick']);
  });

  it('respects dependencies and delays', async () => {
    const idp = new FakeProvider('idp', ['disable_account', 'transfer_files', 'delete_account']);
    harness = await createHarness([idp], {
      playbooks: {
        default: {
          steps: [
            { id: 'disable', provider: 'idp', action: 'disable_account' },
            { id: 'transfer', provider: 'idp', action: 'transfer_files', after: ['disable'] },
            { id: 'delete', provider: 'idp', action: 'delete_account', after: ['transfer'], delay: 400 },
          ],
        },
      },
    });
    idp.script('transfer_files', { kind: 'hang', ms: 100 });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('f'), actor: 'test' });
    const tasks = await harness.waitForTasks(termination.id, allIn('succeeded'));
    const firstCall = (action: string) => idp.calls.find((c) => c.action === action && c.phase === 'execute')!.at;
    const lastVerify = (action: string) => idp.calls.filter((c) => c.action === action && c.phase === 'verify').at(-1)!.at;
    expect(firstCall('transfer_files')).toBeGreaterThanOrEqual(lastVerify('disable_account'));
    expect(firstCall('delete_account')).toBeGreaterThanOrEqual(lastVerify('transfer_files'));
    const deleteTask = tasks.find((t) => t.stepId === 'delete')!;
    expect(firstCall('delete_account')).toBeGreaterThanOrEqual(deleteTask.notBefore.getTime());
    expect(deleteTask.notBefore.getTime() - termination.effectiveAt.getTime()).toBe(400);
  });

  it('does not run a dependent step after its dependency failed', async () => {
    const idp = new FakeProvider('idp', ['transfer_files', 'delete_account']).script('transfer_files', {
      kind: 'throw',
      error: new PermanentError('transfer failed'),
    });
    harness = await createHarness([idp], {
      playbooks: {
        default: {
          steps: [
            { id: 'transfer', provider: 'idp', action: 'transfer_files' },
            { id: 'delete', provider: 'idp', action: 'delete_account', after: ['transfer'] },
          ],
        },
      },
    });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('g'), actor: 'test' });
    await harness.waitForTasks(termination.id, (tasks) => tasks.some((t) => t.state === 'failed'));
    // The engine settles: nothing due remains, so it goes idle with delete still pending.
    expect(await harness.store.nextWakeAt()).toBeNull();
    const tasks = await harness.store.listTasks(termination.id);
    expect(tasks.find((t) => t.stepId === 'delete')?.state).toBe('pending');
    expect(idp.executions('delete_account')).toBe(0);
  });

  it('a replay does not release a delete while another task at its provider still runs (issue 23, case 4)', async () => {
    // Okta's steps as the employee playbook has them: the delete's own `after` list names only remove-groups.
    const okta = new FakeProvider('okta', ['revoke_sessions', 'disable_account', 'remove_groups', 'delete_account'])
      .script('disable_account', { kind: 'throw', error: new PermanentError('403 missing scope okta.users.manage') })
      .script('revoke_sessions', { kind: 'throw', error: new TransientError('503') }, { kind: 'hang', ms: 600 });
    harness = await createHarness([okta], {
      playbooks: {
        default: {
          steps: [
            { id: 'okta-revoke-sessions', provider: 'okta', action: 'revoke_sessions' },
            { id: 'okta-suspend', provider: 'okta', action: 'disable_account' },
            { id: 'okta-remove-groups', provider: 'okta', action: 'remove_groups', after: ['okta-suspend'] },
            // The retention has passed by the time of the replay.
            { id: 'okta-delete', provider: 'okta', action: 'delete_account', after: ['okta-remove-groups'] },
          ],
        },
      },
      engine: { retry: { baseDelay: 10, maxDelay: 20, maxAttempts: 5 } },
    });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('case4'), actor: 'test' });
    const failedSuspend = await harness.waitForTasks(termination.id, (tasks) =>
      tasks.some((t) => t.stepId === 'okta-suspend' && t.state === 'failed'),
    );
    expect(failedSuspend.find((t) => t.stepId === 'okta-revoke-sessions')!.state).not.toBe('succeeded');
    // Revoke is still retrying: the termination is running, with no finished time.
    expect(await harness.store.getTermination(termination.id)).toMatchObject({ state: 'running', finishedAt: null });

    await harness.store.replayFailedTasks(termination.id, null, 'admin:ops');
    await harness.waitForTasks(termination.id, allIn('succeeded'));
    const at = (action: string, phase: 'execute' | 'verify') =>
      okta.calls.filter((c) => c.action === action && c.phase === phase).map((c) => c.at);
    expect(at('delete_account', 'execute')).toHaveLength(1);
    expect(at('delete_account', 'execute')[0]).toBeGreaterThanOrEqual(Math.max(...at('revoke_sessions', 'verify')));
    expect((await harness.store.getTermination(termination.id))!.state).toBe('completed');
  });

  it('keeps a long-running action in progress without holding a worker slot, then verifies it', async () => {
    const idp = new FakeProvider('idp', ['transfer_files']).script(
      'transfer_files',
      { kind: 'inProgress', checkAfterMs: 30 },
      { kind: 'inProgress', checkAfterMs: 30 },
    );
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'transfer', provider: 'idp', action: 'transfer_files' }] } },
    });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('h'), actor: 'test' });
    const [task] = await harness.waitForTasks(termination.id, allIn('succeeded'));
    const executes = idp.calls.filter((c) => c.phase === 'execute');
    expect(executes.map((c) => c.checkpoint)).toEqual([null, { polls: 1 }, { polls: 2 }]);
    expect(idp.calls.filter((c) => c.phase === 'verify')).toHaveLength(1);
    expect(task!.attempts).toBe(1);
  });

  it('hands the checkpoint of a failed attempt to the retry, merged over the stored one', async () => {
    const idp = new FakeProvider('idp', ['revoke_sessions']).script(
      'revoke_sessions',
      // The first request of two succeeded, then a 429: the retry must not repeat the first.
      { kind: 'throw', error: new RateLimitedError('429 on the second request', 20, { checkpoint: { sessionsRevoked: true } }) },
      // An error without a checkpoint keeps the stored one.
      { kind: 'throw', error: new TransientError('503') },
      // One with a checkpoint is merged over it.
      { kind: 'throw', error: new TransientError('503 again', { checkpoint: { step: 2 } }) },
    );
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'revoke', provider: 'idp', action: 'revoke_sessions' }] } },
      engine: { retry: { baseDelay: 10, maxDelay: 50, maxAttempts: 5 } },
    });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('cp'), actor: 'test' });
    const [task] = await harness.waitForTasks(termination.id, allIn('succeeded'));
    expect(idp.calls.filter((c) => c.phase === 'execute').map((c) => c.checkpoint)).toEqual([
      null,
      { sessionsRevoked: true },
      { sessionsRevoked: true },
      { sessionsRevoked: true, step: 2 },
    ]);
    expect(task!.checkpoint).toEqual({ sessionsRevoked: true, step: 2 });
  });

  it('withCheckpoint keeps the class, message, retry delay and observed state', () => {
    const limited = withCheckpoint(new RateLimitedError('429', 7000, { checkpoint: { a: 1 } }), { b: 2 });
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect(limited.name).toBe('RateLimitedError');
    expect(limited.message).toBe('429');
    expect(limited.retryAfterMs).toBe(7000);
    expect(limited.checkpoint).toEqual({ a: 1, b: 2 });
    const verification = withCheckpoint(new VerificationError('differs', { status: 'ACTIVE' }), { c: 3 });
    expect(verification).toBeInstanceOf(VerificationError);
    expect(verification.observed).toEqual({ status: 'ACTIVE' });
    expect(verification.checkpoint).toEqual({ c: 3 });
    expect(new TransientError('503').checkpoint).toBeUndefined();
    expect(Object.keys(new TransientError('503'))).not.toContain('checkpoint');
  });

  it('keeps an attempt whose lease row is locked by another transaction (busy), and records it once', async () => {
    const idp = new FakeProvider('idp', ['disable_account']).script('disable_account', { kind: 'hang', ms: 1_300 });
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'disable', provider: 'idp', action: 'disable_account' }] } },
    });
    // As PostgreSQL answers while a peer frozen inside a transaction holds the task's row:
    // still this worker's, not extended. Taken for lost, the attempt stopped and ran again.
    let heartbeats = 0;
    harness.store.renewLeases = async (_worker, leases) => {
      heartbeats += 1;
      return { renewed: [], busy: leases.map((lease) => lease.id) };
    };
    const lost: string[] = [];
    harness.events.on('task:lease_lost', (e) => lost.push(e.taskId));
    harness.engine({ lease: 3_000 }).start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('busy'), actor: 'test' });
    const [task] = await harness.waitForTasks(termination.id, allIn('succeeded'));
    expect(heartbeats).toBeGreaterThan(0);
    expect(lost).toEqual([]);
    expect(idp.executions()).toBe(1);
    expect(task!.attempts).toBe(1);
  });

  it('reclaims a task whose worker crashed once its lease expires', async () => {
    const idp = new FakeProvider('idp', ['disable_account']);
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'disable', provider: 'idp', action: 'disable_account' }] } },
    });
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('i'), actor: 'test' });
    // A worker claims the task and dies without a word.
    const claimed = await harness.store.claimDueTasks({ worker: 'crashed', provider: 'idp', now: new Date(), leaseMs: 300, limit: 10 });
    expect(claimed).toHaveLength(1);
    const survivor = harness.engine({ workerId: 'survivor' });
    survivor.start();
    const [task] = await harness.waitForTasks(termination.id, allIn('succeeded'));
    expect(idp.executions()).toBe(1);
    const attempts = await harness.store.listAttempts(termination.id);
    expect(attempts.map((a) => a.worker)).toEqual(['survivor']);
    expect(task!.leaseOwner).toBeNull();
    // The crashed worker's late report is discarded.
    const late = await harness.store.finishAttempt(
      'crashed',
      claimed[0]!,
      { state: 'failed', error: { kind: 'transient', message: 'late' } },
      attempts[0]!,
    );
    expect(late).toBe(false);
    expect((await harness.store.getTask(task!.id))?.state).toBe('succeeded');
  });

  it('fails a task for good, as crashed, once its claims have used every attempt without a result', async () => {
    const idp = new FakeProvider('idp', ['disable_account']);
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'disable', provider: 'idp', action: 'disable_account' }] } },
      engine: { retry: { maxAttempts: 3 } },
    });
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('poison'), actor: 'test' });
    // Three workers in turn claim the task and die with it (a crash loop): each claim counts.
    for (let i = 0; i < 3; i += 1) {
      const claimed = await harness.store.claimDueTasks({
        worker: `crashed-${i}`,
        provider: 'idp',
        now: new Date(),
        leaseMs: 1,
        limit: 10,
      });
      expect(claimed).toHaveLength(1);
      expect(claimed[0]!.attempts).toBe(i + 1);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const finished: string[] = [];
    harness.events.on('task:finished', (e) => finished.push(`${e.state}:${e.errorKind}`));
    harness.engine({ workerId: 'survivor' }).start();
    const [task] = await harness.waitForTasks(termination.id, allIn('failed'));
    expect(task!.lastError).toMatchObject({ kind: 'crashed', message: expect.stringMatching(/3 attempts ended without a result/) });
    expect(idp.executions()).toBe(0);
    // The event follows the store's commit, which the poll above can see first on a busy machine.
    await pollUntil(
      async () => finished.length > 0,
      () => 'no task:finished event after the task failed',
      10_000,
    );
    expect(finished).toEqual(['failed:crashed']);
    expect((await harness.store.getTermination(termination.id))!.state).toBe('failed');
  });

  it('never executes a succeeded task again', async () => {
    const idp = new FakeProvider('idp', ['disable_account']);
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'disable', provider: 'idp', action: 'disable_account' }] } },
    });
    const first = harness.engine({ workerId: 'one' });
    first.start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('j'), actor: 'test' });
    await harness.waitForTasks(termination.id, allIn('succeeded'));
    await first.stop();
    // A second engine, woken again and again, finds nothing to do.
    const second = harness.engine({ workerId: 'two' });
    second.start();
    for (let i = 0; i < 5; i += 1) second.wake();
    expect(
      await harness.store.claimDueTasks({
        worker: 'probe',
        provider: 'idp',
        now: new Date(Date.now() + 86_400_000),
        leaseMs: 1000,
        limit: 10,
      }),
    ).toEqual([]);
    await second.stop();
    expect(idp.executions()).toBe(1);
  });

  it('on shutdown lets an in-flight task finish within the grace period', async () => {
    const idp = new FakeProvider('idp', ['disable_account']).script('disable_account', { kind: 'hang', ms: 150 });
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'disable', provider: 'idp', action: 'disable_account' }] } },
    });
    const engine = harness.engine({ shutdownGrace: 5000 });
    let started!: () => void;
    const startedPromise = new Promise<void>((resolve) => (started = resolve));
    harness.events.once('task:started', () => started());
    engine.start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('k'), actor: 'test' });
    await startedPromise;
    await engine.stop();
    const [task] = await harness.store.listTasks(termination.id);
    expect(task!.state).toBe('succeeded');
  });

  it('on shutdown past the grace period releases the in-flight task without using an attempt', async () => {
    const idp = new FakeProvider('idp', ['disable_account']).script('disable_account', { kind: 'hang', ms: 2000 });
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'disable', provider: 'idp', action: 'disable_account' }] } },
    });
    const engine = harness.engine({ shutdownGrace: 50 });
    let started!: () => void;
    const startedPromise = new Promise<void>((resolve) => (started = resolve));
    harness.events.once('task:started', () => started());
    engine.start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('l'), actor: 'test' });
    await startedPromise;
    await engine.stop();
    const [task] = await harness.store.listTasks(termination.id);
    expect(task!.state).toBe('pending');
    expect(task!.leaseOwner).toBeNull();
    expect(task!.attempts).toBe(0);
    // Another worker picks it up straight away.
    idp.script('disable_account');
    harness.engine({ workerId: 'next' }).start();
    await harness.waitForTasks(termination.id, allIn('succeeded'));
  });

  it('answers a repeat delivery with the existing termination, and joins another request for the subject to it', async () => {
    const idp = new FakeProvider('idp', ['disable_account']);
    harness = await createHarness([idp], {
      playbooks: { default: { steps: [{ id: 'disable', provider: 'idp', action: 'disable_account' }] } },
    });
    const a = await harness.service.submit({ source: 'webhook', sourceEventId: 'msg_1', subject: subject('m'), actor: 'test' });
    const b = await harness.service.submit({ source: 'webhook', sourceEventId: 'msg_1', subject: subject('m'), actor: 'test' });
    const c = await harness.service.submit({ source: 'scim', subject: { ...subject('m'), userName: 'M@EXAMPLE.COM' }, actor: 'test' });
    expect(a.created).toBe(true);
    expect(b).toEqual({ termination: a.termination, created: false, outcome: 'created', duplicate: true });
    expect(c).toMatchObject({ termination: { id: a.termination.id }, created: false, outcome: 'joined', duplicate: false });
    expect(await harness.store.listTasks(a.termination.id)).toHaveLength(1);
  });
});
