/**
 * HTTP answers of fetch-based adapters turned into the engine's error vocabulary. One
 * status, one class; nothing here reads message text.
 */
import { PermanentError, RateLimitedError, TransientError, type DeprovisionError } from '../../src/domain/errors.ts';
import { parseRetryAfterMs } from './retry-after.ts';

export interface StatusErrorOptions {
  nowMs: number;
  /** Delay reported for a 429 without a usable Retry-After. */
  defaultRetryAfterMs: number;
}

/**
 * - 429 -> RateLimitedError (Retry-After, or the provider's default);
 * - 503 with Retry-After -> RateLimitedError (a server asking for a pause);
 * - other 5xx, 408, 503 without Retry-After -> TransientError;
 * - 401/403 and every other 4xx -> PermanentError (credentials, permissions, request).
 *
 * `summary` names the call and the provider's error code; callers keep secrets out of it.
 */
export function errorForStatus(status: number, headers: Headers, summary: string, options: StatusErrorOptions): DeprovisionError {
  const retryAfter = parseRetryAfterMs(headers.get('retry-after'), options.nowMs);
  if (status === 429) return new RateLimitedError(summary, retryAfter ?? options.defaultRetryAfterMs);
  if (status === 503 && retryAfter !== null) return new RateLimitedError(summary, retryAfter);
  if (status >= 500 || status === 408) return new TransientError(summary);
  return new PermanentError(summary);
}

/** fetch failed before any answer: DNS, refused connection, reset, abort, timeout. */
export function errorForNetwork(error: unknown, summary: string): TransientError {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : 'network failure';
  return new TransientError(`${summary}: ${reason}`, { cause: error });
}
