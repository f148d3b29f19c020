/**
 * HTTP answers of Microsoft Graph and of the identity platform, turned into the typed
 * errors the engine decides retries from. Nothing here reads message text to decide.
 */
import type { DeprovisionError } from '../contract.ts';
import { errorForStatus as httpErrorForStatus } from '../http/errors.ts';

/**
 * Delay reported when Graph throttles without a Retry-After header (it does not always
 * send one). Graph's guidance is to back off; 10 s is long enough for the per-app
 * throttling window to move on and short enough not to stall a critical revocation.
 */
export const DEFAULT_RATE_LIMIT_RETRY_AFTER_MS = 10_000;

/** Graph's answers follow the shared HTTP mapping, with Graph's default throttling delay. */
export function errorForStatus(status: number, headers: Headers, summary: string, nowMs: number): DeprovisionError {
  return httpErrorForStatus(status, headers, summary, { nowMs, defaultRetryAfterMs: DEFAULT_RATE_LIMIT_RETRY_AFTER_MS });
}

export { errorForNetwork } from '../http/errors.ts';

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
