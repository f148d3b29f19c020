/**
 * What Microsoft Graph's and the identity platform's answers mean, as facts for the shared
 * mapper (providers/http/errors.ts).
 */
import type { ProviderHttpFacts } from '../http/errors.ts';

/**
 * Delay reported when Graph throttles without a Retry-After header (it does not always
 * send one). Graph's guidance is to back off; 10 s is long enough for the per-app
 * throttling window to move on and short enough not to stall a critical revocation.
 */
export const DEFAULT_RATE_LIMIT_RETRY_AFTER_MS = 10_000;

export const GRAPH_HTTP_FACTS: ProviderHttpFacts = { defaultRetryAfterMs: DEFAULT_RATE_LIMIT_RETRY_AFTER_MS };

/** Graph's error body: `{ error: { code, message, innerError: { date, request-id } } }`. */
export function describeGraphError(body: unknown): string {
  if (body && typeof body === 'object' && 'error' in body) {
    const error = body.error;
    if (error && typeof error === 'object') {
      const { code, message, innerError } = error as { code?: unknown; message?: unknown; innerError?: unknown };
      const requestId = innerError && typeof innerError === 'object' ? (innerError as Record<string, unknown>)['request-id'] : undefined;
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
