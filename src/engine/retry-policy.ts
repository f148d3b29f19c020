/**
 * What happens after a failed attempt, decided by the error's type alone:
 * rate limited -> wait exactly as asked (no attempt used); permanent -> fail now;
 * transient or verification -> exponential backoff with full jitter until attempts run out;
 * stopped by the lease fence -> back to the queue at once, no attempt used.
 */
import { DeprovisionError, RateLimitedError } from '../domain/errors.ts';
import type { RetryPolicy } from '../config/schema.ts';
import { LeaseLostError } from './lease-fence.ts';

export type RetryDecision =
  { kind: 'fail'; reason: string } | { kind: 'retry'; delayMs: number; countsAsAttempt: boolean; rateLimited: boolean };

export interface AttemptHistory {
  /** Attempts already used, before this one. */
  attempts: number;
  /** Rate-limit waits already taken, before this one. */
  rateLimitedCount: number;
}

/** Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^attempt)]. */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelay, policy.baseDelay * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

export function decideRetry(policy: RetryPolicy, error: Error, history: AttemptHistory, random: () => number = Math.random): RetryDecision {
  if (error instanceof RateLimitedError) {
    if (history.rateLimitedCount + 1 > policy.maxRateLimitWaits) {
      return { kind: 'fail', reason: `rate limited ${history.rateLimitedCount + 1} times` };
    }
    return {
      kind: 'retry',
      delayMs: Math.min(Math.max(0, error.retryAfterMs), policy.maxRetryAfter),
      countsAsAttempt: false,
      rateLimited: true,
    };
  }
  // The lease fence stopped the attempt before a request: the provider did not fail, and
  // whoever holds the task now (this worker after a renewal, or another) runs it at once.
  if (error instanceof LeaseLostError) return { kind: 'retry', delayMs: 0, countsAsAttempt: false, rateLimited: false };
  const kind = error instanceof DeprovisionError ? error.kind : 'transient';
  if (kind === 'permanent') return { kind: 'fail', reason: 'permanent error' };
  const used = history.attempts + 1;
  if (used >= policy.maxAttempts) return { kind: 'fail', reason: `${used} attempts used` };
  return { kind: 'retry', delayMs: backoffDelayMs(policy, history.attempts, random), countsAsAttempt: true, rateLimited: false };
}
