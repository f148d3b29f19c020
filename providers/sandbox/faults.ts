/**
 * Fault injection shared by every provider sandbox. Probabilities are drawn from a
 * seeded generator so a failing test can be replayed with the same faults.
 */
import { z } from 'zod';

export const faultConfigSchema = z.object({
  /** Added to every request before it is answered. Default 0. */
  latencyMs: z.number().int().min(0).max(60_000).default(0),
  /** Hard request-rate limit per second, answered in the provider's own style. Default none. */
  rateLimitPerSecond: z.number().int().positive().nullable().default(null),
  /** Probability of a rate-limit answer regardless of the real rate. Default 0. */
  rateLimitRate: z.number().min(0).max(1).default(0),
  /** Retry-After the random rate-limit answers ask for. Default 1000 ms. */
  rateLimitRetryAfterMs: z.number().int().min(0).default(1000),
  /** Probability of a 5xx answer. Default 0. */
  errorRate: z.number().min(0).max(1).default(0),
  /** Probability that a request hangs and its socket is closed without an answer. Default 0. */
  timeoutRate: z.number().min(0).max(1).default(0),
  /** Probability that a write answers 2xx but changes nothing. Default 0. */
  lyingRate: z.number().min(0).max(1).default(0),
  /** Seed for the fault generator. Default 1. */
  seed: z.number().int().default(1),
});
export type FaultConfig = z.infer<typeof faultConfigSchema>;
export type FaultConfigInput = z.input<typeof faultConfigSchema>;

/** mulberry32: tiny, seeded, good enough to spread faults evenly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Counts requests in one-second windows, the way providers publish their limits. */
export class WindowLimiter {
  private windowStart = 0;
  private count = 0;
  constructor(private readonly perSecond: number) {}

  /** Returns null when the request may pass, or the epoch ms at which the window resets. */
  take(nowMs: number): number | null {
    const window = Math.floor(nowMs / 1000) * 1000;
    if (window !== this.windowStart) {
      this.windowStart = window;
      this.count = 0;
    }
    if (this.count >= this.perSecond) return window + 1000;
    this.count += 1;
    return null;
  }
}
