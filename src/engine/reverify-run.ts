/**
 * One re-verification: the action's `verify` again, against the account the task used, and
 * nothing else (no resolve, no execute: a read may not change anything). Its result is an
 * AttemptResult like a task attempt's, so it crosses to and from the attempt worker thread
 * the same way; the Reverifier (reverifier.ts) reads it as held, drift or error.
 */
import { abortable, deadlineSignal } from '../domain/abortable.ts';
import { coerceError, errorKind, RateLimitedError, VerificationError } from '../domain/errors.ts';
import type { JsonObject } from '../domain/types.ts';
import type { AttemptResult, RunAttemptOptions } from './runner.ts';

export async function runReverify(options: RunAttemptOptions): Promise<AttemptResult> {
  const { task, termination, provider, now } = options;
  const startedAt = now();
  const deadline = deadlineSignal(options.attemptTimeoutMs, 'read-back unfinished');
  const signal = AbortSignal.any([options.signal, deadline.signal]);
  const record = (outcome: AttemptResult['attempt']['outcome'], error: Error | null, evidence: JsonObject | null) => ({
    taskId: task.id,
    attempt: task.attempts,
    worker: options.worker,
    startedAt,
    finishedAt: now(),
    outcome,
    errorKind: error ? errorKind(error) : null,
    errorMessage: error ? error.message : null,
    evidence,
  });
  try {
    const account = task.account as (JsonObject & { id: string }) | null;
    if (!account) {
      const evidence: JsonObject = { skipped: 'the task has no account to read back' };
      return { outcome: { state: 'skipped', evidence, account: null }, attempt: record('skipped', null, evidence), rateLimitedForMs: null };
    }
    const handler = provider.actions[task.action];
    if (!handler) throw new Error(`provider ${provider.name} does not support ${task.action}`);
    const verified = await abortable(signal, () =>
      handler.verify(account, {
        signal,
        logger: options.logger,
        now,
        params: task.params,
        subject: termination.subject,
        terminationId: termination.id,
        effectiveAt: termination.effectiveAt,
        taskId: task.id,
        attempt: task.attempts,
        // A read-back compares provider timestamps with the start of the attempt that did the work.
        attemptStartedAt: options.provenAt ?? startedAt,
        checkpoint: null,
      }),
    );
    const evidence: JsonObject = { account, verify: verified };
    return { outcome: { state: 'succeeded', evidence, account }, attempt: record('succeeded', null, evidence), rateLimitedForMs: null };
  } catch (thrown) {
    const error = coerceError(thrown);
    const summary = { kind: errorKind(error), message: error.message };
    // What the read-back saw when it disagreed: the drift's "what changed".
    const observed: JsonObject | null = error instanceof VerificationError ? ({ observed: error.observed } as JsonObject) : null;
    return {
      outcome: { state: 'failed', error: summary, evidence: observed },
      attempt: record('failed', error, observed),
      rateLimitedForMs: error instanceof RateLimitedError ? error.retryAfterMs : null,
    };
  } finally {
    deadline.cancel();
  }
}
