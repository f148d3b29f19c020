import { describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import { backoffDelayMs, decideRetry } from '../src/engine/retry-policy.ts';

const policy = configSchema.shape.engine.parse({ retry: { baseDelay: '1s', maxDelay: '1m', maxAttempts: 5, maxRateLimitWaits: 3 } }).retry;

describe('backoffDelayMs', () => {
  it('stays within [0, min(cap, base * 2^attempt)] (full jitter)', () => {
    for (let attempt = 0; attempt < 12; attempt += 1) {
      const ceiling = Math.min(60_000, 1000 * 2 ** attempt);
      expect(backoffDelayMs(policy, attempt, () => 0)).toBe(0);
      expect(backoffDelayMs(policy, attempt, () => 0.999999)).toBeLessThanOrEqual(ceiling);
      expect(backoffDelayMs(policy, attempt, () => 0.999999)).toBeGreaterThan(ceiling * 0.99);
    }
  });

  it('never exceeds the cap, even for huge attempt numbers', () => {
    expect(backoffDelayMs(policy, 500, () => 0.999999)).toBeLessThanOrEqual(60_000);
  });
});

describe('decideRetry', () => {
  const fresh = { attempts: 0, rateLimitedCount: 0 };

  it('honours Retry-After exactly and does not use an attempt', () => {
    expect(decideRetry(policy, new RateLimitedError('slow down', 4321), fresh)).toEqual({
      kind: 'retry',
      delayMs: 4321,
      countsAsAttempt: false,
      rateLimited: true,
    });
  });

  it('caps an absurd Retry-After at maxRetryAfter', () => {
    const decision = decideRetry(policy, new RateLimitedError('slow down', 10 * 86_400_000), fresh);
    expect(decision).toMatchObject({ kind: 'retry', delayMs: policy.maxRetryAfter });
  });

  it('fails after maxRateLimitWaits rate-limit answers', () => {
    expect(decideRetry(policy, new RateLimitedError('x', 10), { attempts: 0, rateLimitedCount: 3 }).kind).toBe('fail');
    expect(decideRetry(policy, new RateLimitedError('x', 10), { attempts: 0, rateLimitedCount: 2 }).kind).toBe('retry');
  });

  it('fails a permanent error at once', () => {
    expect(decideRetry(policy, new PermanentError('403 forbidden'), fresh).kind).toBe('fail');
  });

  it('retries transient and verification errors with backoff until attempts run out', () => {
    for (const error of [new TransientError('503'), new VerificationError('still active', { status: 'ACTIVE' }), new Error('unknown')]) {
      const decision = decideRetry(policy, error, { attempts: 2, rateLimitedCount: 0 }, () => 0.5);
      expect(decision).toEqual({ kind: 'retry', delayMs: 2000, countsAsAttempt: true, rateLimited: false });
      expect(decideRetry(policy, error, { attempts: 4, rateLimitedCount: 0 }).kind).toBe('fail');
    }
  });

  it('decides from the type, not the message', () => {
    expect(decideRetry(policy, new TransientError('permanent failure, rate limited'), fresh)).toMatchObject({
      kind: 'retry',
      rateLimited: false,
    });
    expect(decideRetry(policy, new PermanentError('please retry later (429)'), fresh).kind).toBe('fail');
  });
});
