/**
 * HTTP answers of Microsoft Graph and of the identity platform, turned into the typed
 * errors the engine decides retries from. Nothing here reads message text to decide.
 */
import {
  PermanentError,
  RateLimitedError,
  TransientError,
  type DeprovisionError,
} from '../../src/domain/errors.ts';
import { parseRetryAfterMs } from '../http/retry-after.ts';

/**
 * Delay reported when Graph throttles without a Retry-After header (it does not always
 * send one). Graph's guidance is to back off; 10 s is long enough for the per-app
 * throttling window to move on and short enough not to stall a critical revocation.
 */
export const DEFAULT_RATE_LIMIT_RETRY_AFTER_MS = 10_000;

/**
 * One status, one class:
 * - 429 -> RateLimitedError (Retry-After, or the default above);
 * - 503 with Retry-After -> RateLimitedError (Graph uses it for throttling too);
 * - other 5xx, 503 without Retry-After -> TransientError;
 * - 401/403 and every other 4xx -> PermanentError (credentials, permissions, request).
 *
 * `summary` names the call and the provider's error code; callers keep secrets out of it.
 */
export function errorForStatus(status: number, headers: Headers, summary: string, nowMs: number): DeprovisionError {
  const retryAfter = parseRetryAfterMs(headers.get('retry-after'), nowMs);
  if (status === 429) {
    return new RateLimitedError(summary, retryAfter ?? DEFAULT_RATE_LIMIT_RETRY_AFTER_MS);
  }
  if (status === 503 && retryAfter !== null) return new RateLimitedError(summary, retryAfter);
  if (status >= 500) return new TransientError(summary);
  return new PermanentError(summary);
}

/** fetch failed before any answer: DNS, refused connection, reset, abort, timeout. */
export function errorForNetwork(error: unknown, summary: string): TransientError {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : 'network failure';
  return new TransientError(`${summary}: ${reason}`, { cause: error });
}

/** Graph's error body: `{ error: { code, message, innerError: { date, request-id } } }`. */
export function describeGraphError(body: unknown): string {
  if (body && typeof body === 'object' && 'error' in body) {
    const error = (body as { error: unknown }).error;
    if (error && typeof error === 'object') {
      const { code, message, innerError } = error as { code?: unknown; message?: unknown; innerError?: unknown };
      const requestId =
        innerError && typeof innerError === 'object' ? (innerError as Record<string, unknown>)['request-id'] : undefined;
      const parts = [
        typeof code === 'string' ? code : 'unknownError',
        typeof message === 'string' ? truncate(message, 300) : '',
        typeof requestId === 'string' ? `(request-id ${requestId})` : '',
      ];
      return parts.filter(Boolean).join(' ');
    }
  }
  return 'no error body';
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
