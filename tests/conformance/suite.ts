/**
 * The adapter conformance suite: every provider adapter runs it against its sandbox.
 * Each supported action is idempotent, verify catches a lying sandbox, rate limits become
 * RateLimitedError with the provider's delay, a missing account resolves to null, and
 * bad credentials fail `validate()` with a PermanentError. Writes that are not idempotent
 * (deletes, lifecycle transitions, transfers, invites) are declared by the fixture and
 * must read the provider first: a repeat (after a takeover) or a retry after a lost answer
 * finds the work done and sends the write no second time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountRef, ActionContext, ExecuteResult, Provider } from '../../providers/contract.ts';
import type { RunningSandbox } from '../../providers/sandbox/kit.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../../src/domain/errors.ts';
import type { ActionName, JsonObject, Subject } from '../../src/domain/types.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { showsPendingRequest } from '../../src/audit/proof.ts';
import { actionContext, freshSubject } from '../helpers/context.ts';

/** A provider write that is not idempotent, as it reaches the sandbox. */
export interface ReadFirstWrite {
  method: string;
  /** Matches the request path (the sandbox's own path, with any base prefix). */
  path: RegExp;
  /**
   * Another write of the action follows this one, so after this one's answer is lost the
   * retry still writes (that one) and its evidence is not "already done". Default false.
   */
  followedByAnother?: boolean;
}

export interface ConformanceFixture {
  kind: string;
  /** Every action the adapter declares; the suite checks the declaration matches. */
  actions: ActionName[];
  /** Starts the sandbox with `autoProvision: true` and builds the adapter against it. */
  start(): Promise<{ sandbox: RunningSandbox; provider: Provider; badCredentials: Provider }>;
  /** Params the playbook step would pass for an action (e.g. `{ mode: 'suspend' }`). */
  params?(action: ActionName): JsonObject;
  /** Gives a subject what an action needs to have something to do (groups, a manager...). */
  prepare?(action: ActionName, subject: Subject, account: AccountRef, sandbox: RunningSandbox): Promise<Subject | undefined>;
  /** Retry-After the sandbox's rate-limit answer asks for, as the adapter should report it. */
  rateLimitDelayMs?: number;
  /** Largest gap between sandbox-requested and reported delay (epoch-second resets round up). */
  rateLimitToleranceMs?: number;
  /**
   * The protocol has no rate-limit answer with a delay (LDAP): why, in a few words. The
   * sandbox then answers its overload code, which must come back as a TransientError.
   */
  noRateLimitAnswer?: string;
  /**
   * Undoes an action at the sandbox behind the adapter's back, as a directory sync or a
   * helpdesk agent would (drift, docs/operations.md): through the sandbox's control API.
   * Actions listed get a case where the read-back must then disagree. Default none.
   */
  undo?: Partial<Record<ActionName, (account: AccountRef, sandbox: RunningSandbox) => Promise<void>>>;
  /** The non-idempotent writes of each action: each must be read-first (see above). Default none. */
  readFirstWrites?: Partial<Record<ActionName, ReadFirstWrite[]>>;
  /**
   * Actions whose command the provider accepts and its target carries out later (a device
   * wipe): right after execute the read-back succeeds and says `requested: …` (proof
   * `requested`, a valid verified outcome); once this hook makes the target acknowledge
   * through the sandbox's control API (the device syncs), it succeeds without. Default none.
   */
  acknowledge?: Partial<Record<ActionName, (account: AccountRef, sandbox: RunningSandbox) => Promise<void>>>;
}

/** The evidence says the work was found done (or, for a long-running one, found under way). */
function foundDone(evidence: JsonObject): boolean {
  return evidence.alreadyDone === true || evidence.alreadyRequested === true;
}

/** Runs execute until it stops answering `inProgress` (long-running actions poll). */
export async function executeToCompletion(
  provider: Provider,
  action: ActionName,
  account: AccountRef,
  ctx: ActionContext,
): Promise<ExecuteResult> {
  const handler = provider.actions[action];
  if (!handler) throw new Error(`${provider.kind} does not support ${action}`);
  let checkpoint: JsonObject | null = null;
  for (let i = 0; i < 100; i += 1) {
    const result = await handler.execute(account, { ...ctx, checkpoint });
    if (!result.inProgress) return result;
    checkpoint = result.inProgress.checkpoint;
  }
  throw new Error(`${action} still in progress after 100 polls`);
}

export function runConformance(fixture: ConformanceFixture): void {
  describe(`adapter conformance: ${fixture.kind}`, () => {
    let sandbox: RunningSandbox;
    let provider: Provider;
    let badCredentials: Provider;

    beforeAll(async () => {
      ({ sandbox, provider, badCredentials } = await fixture.start());
    });
    afterAll(async () => {
      await provider?.close?.();
      await badCredentials?.close?.();
      await sandbox?.close();
    });

    const ctxFor = (subject: Subject, action: ActionName) => actionContext(subject, { params: fixture.params?.(action) ?? {} });

    async function resolved(action: ActionName): Promise<{ subject: Subject; account: AccountRef }> {
      let subject = freshSubject(fixture.kind);
      const account = await provider.resolve(subject, ctxFor(subject, action));
      expect(account, 'autoProvision sandbox must hold an account for any subject').not.toBeNull();
      subject = (await fixture.prepare?.(action, subject, account!, sandbox)) ?? subject;
      return { subject, account: account! };
    }

    it('declares exactly the actions it supports', () => {
      expect(Object.keys(provider.actions).sort()).toEqual([...fixture.actions].sort());
    });

    it('validate() accepts good credentials and rejects bad ones with PermanentError', async () => {
      const ctx = { signal: new AbortController().signal, logger: silentLogger() };
      await provider.validate?.(ctx);
      await expect(badCredentials.validate!(ctx)).rejects.toBeInstanceOf(PermanentError);
    });

    it('resolves a missing account to null (the task is skipped)', async () => {
      sandbox.control.autoProvision = false;
      try {
        const subject = freshSubject('missing');
        expect(await provider.resolve(subject, ctxFor(subject, fixture.actions[0]!))).toBeNull();
      } finally {
        sandbox.control.autoProvision = true;
      }
    });

    for (const action of fixture.actions) {
      describe(action, () => {
        it('is idempotent and verified by read-back', async () => {
          const { subject, account } = await resolved(action);
          const ctx = ctxFor(subject, action);
          const first = await executeToCompletion(provider, action, account, ctx);
          expect(first.evidence).toBeTypeOf('object');
          const evidence = await provider.actions[action]!.verify(account, ctx);
          expect(evidence).toBeTypeOf('object');
          const again = await executeToCompletion(provider, action, account, { ...ctx, attemptStartedAt: new Date() });
          expect(again.evidence).toBeTypeOf('object');
          await provider.actions[action]!.verify(account, ctx);
        });

        const undo = fixture.undo?.[action];
        if (undo) {
          it('verify catches drift: the action undone at the provider afterwards is a VerificationError', async () => {
            const { subject, account } = await resolved(action);
            const ctx = ctxFor(subject, action);
            await executeToCompletion(provider, action, account, ctx);
            await provider.actions[action]!.verify(account, ctx);
            await undo(account, sandbox);
            await expect(provider.actions[action]!.verify(account, { ...ctx, attemptStartedAt: new Date() })).rejects.toBeInstanceOf(
              VerificationError,
            );
          });
        }

        const acknowledge = fixture.acknowledge?.[action];
        if (acknowledge) {
          it('a command the target has not carried out yet verifies as requested, and as done once it has', async () => {
            const { subject, account } = await resolved(action);
            const ctx = ctxFor(subject, action);
            await executeToCompletion(provider, action, account, ctx);
            const requested = await provider.actions[action]!.verify(account, ctx);
            expect(showsPendingRequest(requested), JSON.stringify(requested)).toBe(true);
            await acknowledge(account, sandbox);
            const done = await provider.actions[action]!.verify(account, { ...ctx, attemptStartedAt: new Date() });
            expect(showsPendingRequest(done), JSON.stringify(done)).toBe(false);
          });
        }

        for (const write of fixture.readFirstWrites?.[action] ?? []) {
          const label = `${write.method} ${write.path.source}`;

          it(`a repeat after a takeover finds the work done: ${label} reaches the provider once`, async () => {
            const { subject, account } = await resolved(action);
            const ctx = ctxFor(subject, action);
            const mark = sandbox.control.requests.length;
            await executeToCompletion(provider, action, account, ctx);
            // The same task run again, as a replica that took over the expired lease runs it.
            const again = await executeToCompletion(provider, action, account, { ...ctx, attempt: 2, attemptStartedAt: new Date() });
            expect(sandbox.control.countRequests(write.method, write.path, mark)).toBe(1);
            expect(foundDone(again.evidence), JSON.stringify(again.evidence)).toBe(true);
            await provider.actions[action]!.verify(account, { ...ctx, attempt: 2 });
          });

          it(`a retry after a lost answer finds the work done: ${label} reaches the provider once`, async () => {
            const { subject, account } = await resolved(action);
            const ctx = ctxFor(subject, action);
            const mark = sandbox.control.requests.length;
            sandbox.control.loseAnswers(write.method, write.path);
            const lost = await executeToCompletion(provider, action, account, ctx).catch((e: unknown) => e);
            expect(lost).toBeInstanceOf(TransientError);
            const retry = await executeToCompletion(provider, action, account, { ...ctx, attempt: 2, attemptStartedAt: new Date() });
            expect(sandbox.control.countRequests(write.method, write.path, mark)).toBe(1);
            if (!write.followedByAnother) expect(foundDone(retry.evidence), JSON.stringify(retry.evidence)).toBe(true);
            await provider.actions[action]!.verify(account, { ...ctx, attempt: 2 });
          });
        }

        it('verify fails when the sandbox lies about a write', async () => {
          const { subject, account } = await resolved(action);
          const ctx = ctxFor(subject, action);
          sandbox.control.setFaults({ lyingRate: 1 });
          try {
            const result = await executeToCompletion(provider, action, account, ctx);
            if (result.skipped) return expect.fail(`${action} skipped under lying: nothing was checked`);
            await expect(provider.actions[action]!.verify(account, ctx)).rejects.toBeInstanceOf(VerificationError);
          } finally {
            sandbox.control.setFaults({});
          }
        });
      });
    }

    it(
      fixture.noRateLimitAnswer
        ? `turns an overload answer into TransientError (${fixture.noRateLimitAnswer})`
        : 'turns a rate-limit answer into RateLimitedError with the provider delay',
      async () => {
        const subject = freshSubject(fixture.kind);
        const delay = fixture.rateLimitDelayMs ?? 2000;
        sandbox.control.setFaults({ rateLimitRate: 1, rateLimitRetryAfterMs: delay });
        try {
          const error = await provider.resolve(subject, ctxFor(subject, fixture.actions[0]!)).catch((e: unknown) => e);
          if (fixture.noRateLimitAnswer) return expect(error).toBeInstanceOf(TransientError);
          expect(error).toBeInstanceOf(RateLimitedError);
          const reported = (error as RateLimitedError).retryAfterMs;
          expect(reported).toBeGreaterThanOrEqual(delay - (fixture.rateLimitToleranceMs ?? 1000));
          expect(reported).toBeLessThanOrEqual(delay + (fixture.rateLimitToleranceMs ?? 1000));
        } finally {
          sandbox.control.setFaults({});
        }
      },
    );
  });
}
