import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifyModule } from '../providers/notify/index.ts';
import type { NotifySandbox } from '../providers/notify/sandbox.ts';
import type { Provider } from '../providers/contract.ts';
import { randomUUID } from 'node:crypto';
import { configSchema } from '../src/config/schema.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { JsonObject, Task, Termination } from '../src/domain/types.ts';
import { monotonicMs } from '../src/engine/lease-fence.ts';
import { runAttempt } from '../src/engine/runner.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext, freshSubject } from './helpers/context.ts';

describe('notify provider', () => {
  let sandbox: Awaited<ReturnType<typeof notifyModule.startSandbox>> & Partial<Pick<NotifySandbox, 'messages' | 'duplicates'>>;
  let provider: Provider;

  beforeAll(async () => {
    sandbox = await notifyModule.startSandbox({});
    provider = notifyModule.create(notifyModule.sandboxConfig(sandbox), { name: 'security', logger: silentLogger() });
  });
  afterAll(() => sandbox.close());

  const send = async (params: JsonObject) => {
    const subject = { ...freshSubject('notify'), displayName: 'Ada Lovelace' };
    const terminationId = `t-${Math.random()}`;
    const ctx = actionContext(subject, { params, terminationId, taskId: `task-${terminationId}` });
    const account = (await provider.resolve(subject, ctx))!;
    const executed = await provider.actions.notify!.execute(account, ctx);
    return { ctx, account, executed };
  };

  it('reports a non-string event as the custom event its message carries, not "[object Object]"', async () => {
    const before = sandbox.messages!.length;
    const { executed } = await send({ event: { started: true } });
    expect(executed.evidence).toMatchObject({ event: 'custom' });
    expect(sandbox.messages![before]!.body).toMatchObject({ type: 'deprovisiond.termination.custom' });
  });

  it('delivers a message with no secret and no reason text, and reports the acknowledgement', async () => {
    const before = sandbox.messages!.length;
    const { ctx, account, executed } = await send({ event: 'failed', failedStep: 'okta-suspend', errorKind: 'permanent' });
    expect(executed.evidence).toMatchObject({ channel: 'security', status: 200, event: 'failed' });
    expect(await provider.actions.notify!.verify(account, ctx)).toMatchObject({ acknowledgedWith: 200 });
    const message = sandbox.messages![before]!;
    expect(message.body).toMatchObject({
      type: 'deprovisiond.termination.failed',
      terminationId: ctx.terminationId,
      failedStep: 'okta-suspend',
    });
    expect(JSON.stringify(message.body)).toContain('Ada Lovelace');
    expect(JSON.stringify(message.body)).not.toMatch(/sandbox-notify-token|Bearer/);
    expect(message.idempotencyKey).toBe(ctx.taskId);
  });

  it('keys each push by its task: two failure alerts of one termination both arrive, a retry of one is dropped', async () => {
    const subject = freshSubject('notify');
    const terminationId = `t-${Math.random()}`;
    const alert = (taskId: string, failedStep: string, attempt: number) =>
      actionContext(subject, { terminationId, taskId, attempt, params: { event: 'failed', failedStep, errorKind: 'permanent' } });
    const okta = alert(`task-okta-${terminationId}`, 'okta-suspend', 1);
    const google = alert(`task-google-${terminationId}`, 'google-suspend', 1);
    await provider.actions.notify!.execute({ id: 'security' }, okta);
    await provider.actions.notify!.execute({ id: 'security' }, google);
    // The retry of the Okta alert after a lost answer: same task, next attempt.
    const retried = await provider.actions.notify!.execute({ id: 'security' }, { ...okta, attempt: 2 });

    const delivered = sandbox.messages!.filter((m) => (m.body as { terminationId?: string }).terminationId === terminationId);
    expect(delivered.map((m) => (m.body as { failedStep?: string }).failedStep).sort()).toEqual(['google-suspend', 'okta-suspend']);
    const dropped = sandbox.duplicates!.filter((m) => (m.body as { terminationId?: string }).terminationId === terminationId);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]!.idempotencyKey).toBe(okta.taskId);
    expect(retried.evidence).toMatchObject({ idempotencyKey: okta.taskId, status: 200 });
    // Each task's verify finds its own acknowledgement, not the other's.
    expect(await provider.actions.notify!.verify({ id: 'security' }, okta)).toMatchObject({ acknowledgedWith: 200 });
    expect(await provider.actions.notify!.verify({ id: 'security' }, google)).toMatchObject({ acknowledgedWith: 200 });
  });

  it('through the runner, each notification task keys its pushes by its own id', async () => {
    const now = new Date();
    const subject = freshSubject('notify-run');
    const termination = { id: randomUUID(), subject, state: 'running', requestedAt: now, effectiveAt: now } as Termination;
    // Cast, not a full literal: only the fields the runner reads matter here.
    const task = (failedStep: string, attempts: number) =>
      ({
        id: `${termination.id}-${failedStep}`,
        terminationId: termination.id,
        stepId: `notify-${failedStep}`,
        provider: 'security',
        action: 'notify',
        params: { event: 'failed', failedStep, errorKind: 'permanent' },
        attempts,
        rateLimitedCount: 0,
        account: null,
        checkpoint: null,
      }) as unknown as Task;
    const run = (t: Task) =>
      runAttempt({
        task: t,
        termination,
        provider,
        worker: 'test',
        policy: configSchema.shape.engine.parse({}).retry,
        attemptTimeoutMs: 10_000,
        signal: new AbortController().signal,
        logger: silentLogger(),
        now: () => new Date(),
        lease: { deadline: monotonicMs() + 60_000, marginMs: 1_000 },
        hooks: { recordAccount: async () => true },
      });
    // Attempts are counted when claimed: a first attempt runs with attempts = 1.
    const okta = task('okta-suspend', 1);
    expect((await run(okta)).outcome.state).toBe('succeeded');
    expect((await run(task('google-suspend', 1))).outcome.state).toBe('succeeded');
    // The Okta alert's task claimed again (its first result was lost with a paused replica).
    const retried = await run({ ...okta, attempts: 2 });
    expect(retried.attempt.attempt).toBe(2);

    const delivered = sandbox.messages!.filter((m) => (m.body as { terminationId?: string }).terminationId === termination.id);
    expect(delivered.map((m) => (m.body as { failedStep?: string }).failedStep).sort()).toEqual(['google-suspend', 'okta-suspend']);
    expect(sandbox.duplicates!.filter((m) => m.idempotencyKey === okta.id)).toHaveLength(1);
  });

  it('cannot verify what it did not send', async () => {
    const subject = freshSubject('notify');
    const ctx = actionContext(subject, { params: { event: 'started' } });
    await expect(provider.actions.notify!.verify({ id: 'security' }, ctx)).rejects.toBeInstanceOf(VerificationError);
  });

  it('maps 429 with Retry-After, 5xx and a refused token to typed errors', async () => {
    sandbox.control.setFaults({ rateLimitRate: 1, rateLimitRetryAfterMs: 3000 });
    const limited = await send({ event: 'started' }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect((limited as RateLimitedError).retryAfterMs).toBe(3000);
    sandbox.control.setFaults({ errorRate: 1 });
    expect(await send({ event: 'started' }).catch((e: unknown) => e)).toBeInstanceOf(TransientError);
    sandbox.control.setFaults({});
    const stranger = notifyModule.create({ ...notifyModule.sandboxConfig(sandbox), headers: {} }, { name: 'x', logger: silentLogger() });
    const ctx = actionContext(freshSubject('n'), { params: { event: 'started' } });
    const error = await stranger.actions.notify!.execute({ id: 'x' }, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).not.toContain('sandbox-notify-token');
  });

  it('formats for Slack incoming webhooks', async () => {
    const slack = notifyModule.create(
      { ...notifyModule.sandboxConfig(sandbox), format: 'slack' },
      { name: 'slack', logger: silentLogger() },
    );
    const before = sandbox.messages!.length;
    const ctx = actionContext(
      { ...freshSubject('s'), displayName: 'Grace Hopper' },
      { params: { event: 'revoked' }, taskId: 'task-slack' },
    );
    await slack.actions.notify!.execute({ id: 'slack' }, ctx);
    expect(sandbox.messages![before]!.body).toEqual({
      text: `Access revoked for Grace Hopper: every critical step verified. Termination ${ctx.terminationId}.`,
    });
  });
});
