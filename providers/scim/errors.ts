/**
 * HTTP answers of a SCIM target (and of its OAuth token endpoint) turned into the typed
 * errors the engine decides retries from. The status and headers decide; message text
 * never does. Messages carry the operation, the status and the SCIM `scimType`, never a
 * URL with a filter value, a token or a request header.
 */
import { PermanentError, RateLimitedError, TransientError, type DeprovisionError } from '../../src/domain/errors.ts';

/**
 * Delay reported for a 429 without a usable Retry-After. Slack's and GitHub's SCIM
 * limits are per minute, so half a minute lets the window move on without stalling a
 * critical revocation for long.
 */
export const DEFAULT_RATE_LIMIT_DELAY_MS = 30_000;

/** Retry-After as delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

/**
 * One status, one class:
 * - 429 -> RateLimitedError (Retry-After, or the default above);
 * - 503 with Retry-After -> RateLimitedError (the target says when to come back);
 * - 5xx, 408 -> TransientError;
 * - 401, 403 and every other 4xx -> PermanentError (credentials, permission, request).
 */
export function errorForStatus(status: number, headers: Headers, message: string, nowMs: number): DeprovisionError {
  const retryAfter = parseRetryAfterMs(headers.get('retry-after'), nowMs);
  if (status === 429) return new RateLimitedError(message, retryAfter ?? DEFAULT_RATE_LIMIT_DELAY_MS);
  if (status === 503 && retryAfter !== null) return new RateLimitedError(message, retryAfter);
  if (status >= 500 || status === 408) return new TransientError(message);
  return new PermanentError(message);
}

/** fetch failed before any answer: DNS, refused connection, reset, timeout, abort. */
export function errorForNetwork(error: unknown, operation: string): TransientError {
  const name = error instanceof Error ? error.name : 'Error';
  const cause = error instanceof Error ? (error as { cause?: unknown }).cause : undefined;
  const code = typeof (cause as { code?: unknown } | undefined)?.code === 'string' ? ` ${(cause as { code: string }).code}` : '';
  // The original error is not attached: undici's errors can carry the request, headers included.
  return new TransientError(`SCIM ${operation}: no answer (${name}${code})`);
}

/**
 * The SCIM error body (RFC 7644 section 3.12): `{ schemas, status, scimType?, detail? }`.
 * `scimType` is a fixed vocabulary and always safe to show; `detail` is free text that
 * some targets fill with the offending filter, so it is cut short.
 */
export function describeScimError(body: unknown): string {
  if (!body || typeof body !== 'object') return '';
  const { scimType, detail } = body as { scimType?: unknown; detail?: unknown };
  const parts = [
    typeof scimType === 'string' && /^[A-Za-z]{1,40}$/.test(scimType) ? scimType : '',
    typeof detail === 'string' ? truncate(detail.replace(/\s+/g, ' '), 160) : '',
  ].filter(Boolean);
  return parts.length > 0 ? `: ${parts.join(' ')}` : '';
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
