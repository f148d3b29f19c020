/**
 * An attempt ends at its deadline even when the provider never answers and the garbage
 * collector runs meanwhile. On Node 20, `AbortSignal.any([signal, AbortSignal.timeout(ms)])`
 * holds the timeout signal only weakly: one collection and the deadline is gone, so a
 * silent provider held the task until its lease ran out.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import type { Provider } from '../providers/contract.ts';
import { configSchema } from '../src/config/schema.ts';
import type { Task, Termination } from '../src/domain/types.ts';
import { monotonicMs } from '../src/engine/lease-fence.ts';
import { runAttempt } from '../src/engine/runner.ts';
import { silentLogger } from '../src/telemetry/logger.ts';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Answers only when the attempt's signal aborts, as a provider that never replies. */
const silentProvider: Provider = {
  kind: 'silent',
  name: 'silent',
  resolve: (_subject, ctx) =>
    new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true })),
  actions: { disable_account: { execute: async () => ({ evidence: {} }), verify: async () => ({ verified: true, evidence: {} }) } },
};

describe('an attempt against a provider that never answers', () => {
  it('ends at its deadline although the garbage collector ran while it waited', async () => {
    const now = new Date();
    const termination = {
      id: 't-1',
      subject: { userName: 'ada@example.com' },
      state: 'running',
      requestedAt: now,
      effectiveAt: now,
    } as unknown as Termination;
    const task = {
      id: 'task-1',
      terminationId: 't-1',
      stepId: 'disable',
      provider: 'silent',
      action: 'disable_account',
      params: {},
      attempts: 1,
      rateLimitedCount: 0,
      account: null,
      checkpoint: null,
    } as unknown as Task;
    const attempt = runAttempt({
      task,
      termination,
      provider: silentProvider,
      worker: 'test',
      policy: configSchema.shape.engine.parse({}).retry,
      attemptTimeoutMs: 200,
      signal: new AbortController().signal,
      logger: silentLogger(),
      now: () => new Date(),
      lease: { deadline: monotonicMs() + 60_000, marginMs: 1_000 },
      hooks: { recordAccount: async () => true },
    });
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 50));
    collectGarbage();
    // Bounded: far past the 200 ms deadline, far before the test's own timeout.
    const hung = Symbol('hung');
    const result = await Promise.race([attempt, new Promise<typeof hung>((resolve) => setTimeout(() => resolve(hung), 5_000).unref())]);
    expect(result).not.toBe(hung);
    if (result === hung) return;
    expect(result.outcome.state).not.toBe('succeeded');
  });
});
