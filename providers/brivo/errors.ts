/**
 * Brivo answers turned into the typed errors the engine decides retries from. Brivo's
 * API sits behind a Mashery gateway, which refuses over-limit calls with **403** and an
 * `X-Mashery-Error-Code` header rather than 429, so a 403 is read by that header (a
 * fixed code, not message text) before it is taken as a permission problem.
 */
import { PermanentError, RateLimitedError, TransientError, type DeprovisionError } from '../contract.ts';
import { errorForNetwork as httpErrorForNetwork } from '../http/errors.ts';
import { parseRetryAfterMs } from '../http/retry-after.ts';

/** Over the per-second limit without Retry-After: the window is one second. */
export const DEFAULT_QPS_DELAY_MS = 1_000;
/**
 * Over the quota of the rate period (ERR_403_DEVELOPER_OVER_RATE) without Retry-After.
 * The period depends on the API tier; a quarter of an hour lets the engine look again
 * without hammering a closed quota.
 */
export const DEFAULT_QUOTA_DELAY_MS = 15 * 60_000;

/**
 * - 429, or 403 `ERR_403_DEVELOPER_OVER_QPS` -> RateLimitedError (Retry-After, else 1 s);
 * - 403 `ERR_403_DEVELOPER_OVER_RATE` -> RateLimitedError (Retry-After, else 15 min);
 * - 503 with Retry-After -> RateLimitedError;
 * - 596 (Mashery "service not found": wrong verb or path) -> PermanentError;
 * - other 5xx, 408 -> TransientError;
 * - 401, other 403 (no permission, `ERR_403_DEVELOPER_INACTIVE` = bad api-key), other 4xx -> PermanentError.
 */
export function errorForStatus(status: number, headers: Headers, message: string, nowMs: number): DeprovisionError {
  const retryAfter = parseRetryAfterMs(headers.get('retry-after'), nowMs);
  const mashery = headers.get('x-mashery-error-code') ?? '';
  if (status === 429 || (status === 403 && mashery === 'ERR_403_DEVELOPER_OVER_QPS')) {
    return new RateLimitedError(message, retryAfter ?? DEFAULT_QPS_DELAY_MS);
  }
  if (status === 403 && mashery === 'ERR_403_DEVELOPER_OVER_RATE') {
    return new RateLimitedError(message, retryAfter ?? DEFAULT_QUOTA_DELAY_MS);
  }
  if (status === 503 && retryAfter !== null) return new RateLimitedError(message, retryAfter);
  if (status === 596) return new PermanentError(message);
  if (status >= 500 || status === 408) return new TransientError(message);
  return new PermanentError(message);
}

export function errorForNetwork(error: unknown, operation: string): TransientError {
  return httpErrorForNetwork(error, `Brivo ${operation}`);
}

/**
 * What to say about a refusal: the Mashery code when the gateway answered, Brivo's
 * `{ code, message }` message (short, e.g. "User not found"), or the OAuth error code.
 */
export function describeBrivoError(headers: Headers, body: unknown): string {
  const mashery = headers.get('x-mashery-error-code');
  if (mashery && /^[A-Z0-9_]{1,60}$/.test(mashery)) return ` ${mashery}`;
  if (body && typeof body === 'object') {
    const { message, error } = body as { message?: unknown; error?: unknown };
    if (typeof error === 'string' && /^[a-z_]{1,60}$/.test(error)) return ` ${error}`;
    if (typeof message === 'string') return `: ${message.replace(/\s+/g, ' ').slice(0, 120)}`;
  }
  return '';
}
