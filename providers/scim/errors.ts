/**
 * HTTP answers of a SCIM target (and of its OAuth token endpoint) turned into the typed
 * errors the engine decides retries from. The status and headers decide; message text
 * never does. Messages carry the operation, the status and the SCIM `scimType`, never a
 * URL with a filter value, a token or a request header.
 */
import type { DeprovisionError, TransientError } from '../contract.ts';
import { errorForNetwork as httpErrorForNetwork, errorForStatus as httpErrorForStatus } from '../http/errors.ts';

/**
 * Delay reported for a 429 without a usable Retry-After. Slack's and GitHub's SCIM
 * limits are per minute, so half a minute lets the window move on without stalling a
 * critical revocation for long.
 */
export const DEFAULT_RATE_LIMIT_DELAY_MS = 30_000;

/** A SCIM target's answers follow the shared HTTP mapping, with the default delay above. */
export function errorForStatus(status: number, headers: Headers, message: string, nowMs: number): DeprovisionError {
  return httpErrorForStatus(status, headers, message, { nowMs, defaultRetryAfterMs: DEFAULT_RATE_LIMIT_DELAY_MS });
}

export function errorForNetwork(error: unknown, operation: string): TransientError {
  return httpErrorForNetwork(error, `SCIM ${operation}`);
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
