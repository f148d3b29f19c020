/**
 * What Brivo's answers mean, as facts for the shared mapper (providers/http/errors.ts).
 * Brivo's API sits behind a Mashery gateway, which refuses over-limit calls with **403** and
 * an `X-Mashery-Error-Code` header rather than 429, so a 403 is read by that header (a
 * fixed code, not message text) before it is taken as a permission problem.
 */
import type { HttpAnswer, ProviderHttpFacts } from '../http/errors.ts';

/** Over the per-second limit without Retry-After: the window is one second. */
export const DEFAULT_QPS_DELAY_MS = 1_000;
/**
 * Over the quota of the rate period (ERR_403_DEVELOPER_OVER_RATE) without Retry-After.
 * The period depends on the API tier; a quarter of an hour lets the engine look again
 * without hammering a closed quota.
 */
export const DEFAULT_QUOTA_DELAY_MS = 15 * 60_000;

/**
 * - 429, or 403 `ERR_403_DEVELOPER_OVER_QPS` -> rate limited (Retry-After, else 1 s);
 * - 403 `ERR_403_DEVELOPER_OVER_RATE` -> rate limited (Retry-After, else 15 min);
 * - 596 (Mashery "service not found": wrong verb or path) -> permanent;
 * - 401, other 403 (no permission, `ERR_403_DEVELOPER_INACTIVE` = bad api-key) -> permanent,
 *   and the rest as every provider's.
 */
export const BRIVO_HTTP_FACTS: ProviderHttpFacts = {
  defaultRetryAfterMs: DEFAULT_QPS_DELAY_MS,
  otherRateLimit: ({ status, headers }) => {
    if (status !== 403) return null;
    const mashery = headers.get('x-mashery-error-code');
    if (mashery === 'ERR_403_DEVELOPER_OVER_QPS') return DEFAULT_QPS_DELAY_MS;
    if (mashery === 'ERR_403_DEVELOPER_OVER_RATE') return DEFAULT_QUOTA_DELAY_MS;
    return null;
  },
  permanentStatuses: [596],
  describe: describeBrivoError,
};

/**
 * What to say about a refusal: the Mashery code when the gateway answered, Brivo's
 * `{ code, message }` message (short, e.g. "User not found"), or the OAuth error code.
 */
function describeBrivoError({ headers, body }: HttpAnswer): string {
  const mashery = headers.get('x-mashery-error-code');
  if (mashery && /^[A-Z0-9_]{1,60}$/.test(mashery)) return ` ${mashery}`;
  if (body && typeof body === 'object') {
    const { message, error } = body as { message?: unknown; error?: unknown };
    if (typeof error === 'string' && /^[a-z_]{1,60}$/.test(error)) return ` ${error}`;
    if (typeof message === 'string') return `: ${message.replace(/\s+/g, ' ').slice(0, 120)}`;
  }
  return '';
}
