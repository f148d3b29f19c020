/**
 * Runs one attempt of one task: resolve the account, execute, verify by read-back.
 * Turns the result or the typed error into the outcome the store records.
 */
import type { Logger } from 'pino';
import type { ActionContext, Provider } from '../../providers/contract.ts';
import { abortable, deadlineSignal } from '../domain/abortable.ts';
import { coerceError, DeprovisionError, errorKind, RateLimitedError, TransientError, VerificationError } from '../domain/errors.ts';
import type { JsonObject, Task, TaskAttempt, Termination } from '../domain/types.ts';
import type { RetryPolicy } from '../config/schema.ts';
import type { AttemptOutcome } from '../store/store.ts';
import type { AttemptHooks } from './attempts.ts';
import { LeaseLostError, monotonicMs, withinLease, type LeaseWindow } from './lease-fence.ts';
import { decideRetry } from './retry-policy.ts';
import { expandMembers } from './expand-run.ts';
import { memberSubject } from '../domain/members.ts';
import { runReverify } from './reverify-run.ts';
import { SharedResolves } from './shared-resolve.ts';

/** Look-ups shared by the attempts this thread runs. */
const sharedResolves = new SharedResolves();

export interface AttemptResult {
  outcome: AttemptOutcome;
  attempt: TaskAttempt;
  /** Set when the provider asked to slow down: the gate pauses for this long. */
  rateLimitedForMs: number | null;
}

export interface RunAttemptOptions {
  task: Task;
  termination: Termination;
  provider: Provider;
  worker: string;
  policy: RetryPolicy;
  attemptTimeoutMs: number;
  signal: AbortSignal;
  logger: Logger;
  now: () => Date;
  /** The claim's lease as this process sees it: every provider request is fenced by it. */
  lease: LeaseWindow;
  hooks: AttemptHooks;
  /** `reverify`: only the read-back (reverify-run.ts). */
  mode?: 'attempt' | 'reverify' | undefined;
  /** `reverify`: when the attempt that proved the task started; its read-back is judged against it. */
  provenAt?: Date | undefined;
}

/**
 * Actions whose account is written onto the task before their first write: if this attempt
 * deletes the account and then loses its result (a frozen or killed replica), the next
 * holder goes to the account it knows instead of looking the subject up, finding nobody,
 * and reporting that there was never an account.
 */
const ACCOUNT_RECORDED_FIRST: ReadonlySet<string> = new Set(['delete_account']);

/**
 * Checkpoint key under which the engine keeps the evidence of an `execute` that completed
 * when the read-back after it failed for a reason other than disagreement (a rate limit, an
 * outage): the retry then only reads back instead of sending the writes again. Adapters
 * never see this key.
 */
const EXECUTED = 'engine:executed';

function withoutEngineKeys(checkpoint: JsonObject | null): JsonObject | null {
  if (!checkpoint || !(EXECUTED in checkpoint)) return checkpoint;
  const { [EXECUTED]: _executed, ...rest } = checkpoint;
  return Object.keys(rest).length > 0 ? rest : null;
}

export async function runAttempt(options: RunAttemptOptions): Promise<AttemptResult> {
  if (options.mode === 'reverify') return runReverify(options);
  const { task, termination, provider, now } = options;
  const startedAt = now();
  // Counted when the task was claimed: this attempt is already in `task.attempts`.
  const attemptNumber = task.attempts;
  const executedBefore = (task.checkpoint?.[EXECUTED] as JsonObject | undefined) ?? null;
  const deadline = deadlineSignal(options.attemptTimeoutMs, 'attempt unfinished');
  const signal = AbortSignal.any([options.signal, deadline.signal]);
  const ctx: ActionContext = {
    signal,
    logger: options.logger,
    now,
    params: task.params,
    // A member's task acts on the member, not on their organization (src/domain/members.ts).
    subject: memberSubject(task.params) ?? termination.subject,
    terminationId: termination.id,
    effectiveAt: termination.effectiveAt,
    taskId: task.id,
    attempt: attemptNumber,
    attemptStartedAt: startedAt,
    checkpoint: withoutEngineKeys(task.checkpoint),
  };
  const record = (outcome: TaskAttempt['outcome'], error: Error | null, evidence: JsonObject | null): TaskAttempt => {
    const turn = providerTurn(options.lease, startedAt, now());
    return {
      taskId: task.id,
      attempt: attemptNumber,
      worker: options.worker,
      ...turn,
      outcome,
      errorKind: error ? errorKind(error) : null,
      errorMessage: error ? error.message : null,
      evidence,
    };
  };

  let account: JsonObject | null = task.account;
  /** Evidence of an execute that completed (in this attempt or an earlier one) and awaits its read-back. */
  let executedEvidence: JsonObject | null = executedBefore;
  try {
    if (task.action === 'expand_members') {
      const outcome = await withinLease(options.lease, () => abortable(signal, () => expandMembers(provider, termination, ctx)));
      const summary: JsonObject | null =
        outcome.state === 'succeeded' && outcome.expansion ? { members: outcome.expansion.members.length } : outcome.evidence;
      return { outcome, attempt: record(outcome.state === 'skipped' ? 'skipped' : 'succeeded', null, summary), rateLimitedForMs: null };
    }
    const result = await withinLease(options.lease, () =>
      abortable(signal, async () => {
        const ref = task.account ? (task.account as JsonObject & { id: string }) : await sharedResolves.resolve(provider, termination, ctx);
        account = ref;
        if (!ref) return { kind: 'no_account' as const };
        if (!task.account && ACCOUNT_RECORDED_FIRST.has(task.action) && !(await options.hooks.recordAccount(ref))) {
          throw new LeaseLostError('the task was taken over by another worker before its first write: no request sent');
        }
        const handler = provider.actions[task.action];
        if (!handler) throw new Error(`provider ${provider.name} does not support ${task.action}`);
        if (executedBefore) {
          try {
            return { kind: 'executed' as const, executed: { evidence: executedBefore }, verified: await handler.verify(ref, ctx) };
          } catch (error) {
            // The earlier writes did not hold (a lie, or someone undid them): write again in this same attempt.
            if (!(error instanceof VerificationError)) throw error;
            executedEvidence = null;
          }
        }
        const executed = await handler.execute(ref, ctx);
        if (executed.skipped || executed.inProgress) return { kind: 'executed' as const, executed, verified: null };
        executedEvidence = executed.evidence;
        const verified = await handler.verify(ref, ctx);
        return { kind: 'executed' as const, executed, verified };
      }),
    );

    if (result.kind === 'no_account') {
      const evidence: JsonObject = { skipped: 'the subject has no account at this provider', lookedUp: identifiers(termination) };
      return { outcome: { state: 'skipped', evidence, account: null }, attempt: record('skipped', null, evidence), rateLimitedForMs: null };
    }
    const { executed, verified } = result;
    if (executed.skipped) {
      const evidence: JsonObject = { skipped: executed.skipped, execute: executed.evidence };
      return { outcome: { state: 'skipped', evidence, account }, attempt: record('skipped', null, evidence), rateLimitedForMs: null };
    }
    if (executed.inProgress) {
      const { checkAfterMs, checkpoint } = executed.inProgress;
      return {
        outcome: {
          state: 'pending',
          nextAttemptAt: new Date(now().getTime() + checkAfterMs),
          error: null,
          countsAsAttempt: false,
          rateLimited: false,
          checkpoint,
          account,
        },
        attempt: record('in_progress', null, executed.evidence),
        rateLimitedForMs: null,
      };
    }
    const evidence: JsonObject = { account, execute: executed.evidence, verify: verified ?? {} };
    return { outcome: { state: 'succeeded', evidence, account }, attempt: record('succeeded', null, evidence), rateLimitedForMs: null };
  } catch (thrown) {
    const error =
      signal.aborted && !(thrown instanceof Error && 'kind' in thrown) ? abortError(options.signal, thrown) : coerceError(thrown);
    const decision = decideRetry(options.policy, error, { attempts: task.attempts - 1, rateLimitedCount: task.rateLimitedCount });
    const summary = { kind: errorKind(error), message: error.message };
    const observed = 'observed' in error ? ({ observed: (error as { observed: JsonObject }).observed } as JsonObject) : null;
    if (decision.kind === 'fail') {
      options.logger.warn(
        { taskId: task.id, provider: provider.name, action: task.action, err: summary, reason: decision.reason },
        'task failed',
      );
      return {
        outcome: { state: 'failed', error: summary, evidence: observed },
        attempt: record('failed', error, observed),
        rateLimitedForMs: null,
      };
    }
    return {
      outcome: {
        state: 'pending',
        nextAttemptAt: new Date(now().getTime() + decision.delayMs),
        error: summary,
        countsAsAttempt: decision.countsAsAttempt,
        rateLimited: decision.rateLimited,
        checkpoint: retryCheckpoint(task.checkpoint, error, executedEvidence),
        account,
      },
      attempt: record('retry', error, observed),
      rateLimitedForMs: error instanceof RateLimitedError ? decision.delayMs : null,
    };
  } finally {
    deadline.cancel();
  }
}

/**
 * What the retry starts from: progress the failed attempt reported (say, the first of two
 * requests), and whether the writes all went through so only the read-back is left. A
 * read-back that disagreed sends the retry back to the writes.
 */
function retryCheckpoint(previous: JsonObject | null, error: Error, executedEvidence: JsonObject | null): JsonObject | null {
  const progress = error instanceof DeprovisionError && error.checkpoint ? error.checkpoint : {};
  const base = { ...(withoutEngineKeys(previous) ?? {}), ...progress };
  const readBackLeft = executedEvidence !== null && !(error instanceof VerificationError);
  const next: JsonObject = readBackLeft ? { ...base, [EXECUTED]: executedEvidence } : base;
  return Object.keys(next).length > 0 ? next : null;
}

/**
 * The attempt's turn at the provider, as its record shows it: from its start to now, or,
 * if its lease ran short before it finished, to the moment it did. No request of the
 * attempt can be sent after that (the fence), so its provider work lies before it. A
 * replica frozen mid-attempt reads its last answers and notices its fate only when it
 * resumes, long after; an attempt that started only then never had a turn, and its empty
 * one is recorded at that moment. So the attempts table shows one runner at a time.
 */
function providerTurn(lease: LeaseWindow, startedAt: Date, at: Date): { startedAt: Date; finishedAt: Date } {
  const sinceLastChance = monotonicMs() - (lease.deadline - lease.marginMs);
  if (sinceLastChance <= 0) return { startedAt, finishedAt: at };
  const lastChance = at.getTime() - sinceLastChance;
  return lastChance <= startedAt.getTime()
    ? { startedAt: new Date(lastChance), finishedAt: new Date(lastChance) }
    : { startedAt, finishedAt: new Date(lastChance) };
}

/** An attempt cut short: by its deadline, by shutdown, or because its lease went to another worker. */
function abortError(stop: AbortSignal, cause: unknown): TransientError {
  if (stop.aborted && stop.reason instanceof LeaseLostError) return stop.reason;
  return new TransientError(stop.aborted ? 'attempt aborted by shutdown' : 'attempt timed out', { cause });
}

function identifiers(termination: Termination): JsonObject {
  const { externalId, userName, emails } = termination.subject;
  return { externalId: externalId ?? null, userName: userName ?? null, emails };
}
