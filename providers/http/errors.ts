/**
 * HTTP answers of fetch-based adapters turned into the engine's error vocabulary. One
 * status, one class; nothing here reads message text.
 */
import { DeprovisionError, PermanentError, RateLimitedError, TransientError } from '../contract.ts';
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

/**
 * fetch failed before any answer: DNS, refused connection, reset, abort, timeout. The
 * original error is not attached: undici's errors can carry the request, headers included.
 */
export function errorForNetwork(error: unknown, summary: string): TransientError {
  // The lease fence at the connection (src/startup/connection-fence.ts) surfaces as fetch failing.
  const engine = engineErrorIn(error);
  if (engine instanceof TransientError) return engine;
  const name = error instanceof Error ? error.name : 'Error';
  const cause = error instanceof Error ? (error as { cause?: unknown }).cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return new TransientError(`${summary}: no answer (${name}${typeof code === 'string' ? ` ${code}` : ''})`);
}

/**
 * An engine error an SDK wrapped on its way out (gaxios wraps what its adapter hook throws,
 * such as the lease fence's error, in a GaxiosError with it as `cause`): found, it is the
 * answer as it is, never re-classified as a transport failure.
 */
export function engineErrorIn(error: unknown): DeprovisionError | null {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    if (current instanceof DeprovisionError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}
