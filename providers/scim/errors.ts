/**
 * What a SCIM target's answers mean (its API and its OAuth token endpoint), as facts for
 * the shared mapper (providers/http/errors.ts). Messages carry the operation, the status and
 * the SCIM `scimType`, never a URL with a filter value, a token or a request header.
 */
import type { HttpAnswer, ProviderHttpFacts } from '../http/errors.ts';

/**
 * Delay reported for a 429 without a usable Retry-After. Slack's and GitHub's SCIM
 * limits are per minute, so half a minute lets the window move on without stalling a
 * critical revocation for long.
 */
export const DEFAULT_RATE_LIMIT_DELAY_MS = 30_000;

export const SCIM_HTTP_FACTS: ProviderHttpFacts = {
  defaultRetryAfterMs: DEFAULT_RATE_LIMIT_DELAY_MS,
  describe: describeScimError,
};

/**
 * The SCIM error body (RFC 7644 section 3.12): `{ schemas, status, scimType?, detail? }`.
 * `scimType` is a fixed vocabulary and always safe to show; `detail` is free text that
 * some targets fill with the offending filter, so it is cut short.
 */
function describeScimError({ body }: HttpAnswer): string {
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
