/**
 * Maps what the Okta SDK throws onto the engine's error vocabulary. The SDK throws
 * `OktaApiError` (JSON error body) or `HttpError` (any other body) for a non-2xx answer,
 * and node-fetch's `FetchError` / `AbortError` when no answer came. We build new errors
 * from the status and Okta's error code only: the SDK's objects are never attached as
 * `cause`, so nothing from the request (its Authorization header) can reach a log.
 */
import { TransientError } from '../contract.ts';
import { errorForStatus, headerReader, type HeaderReader, type ProviderHttpFacts } from '../http/errors.ts';

/**
 * Used when a 429 comes without a usable `X-Rate-Limit-Reset`. Okta's limits are per
 * minute, so a minute is the longest the window can still be closed.
 */
export const DEFAULT_RATE_LIMIT_DELAY_MS = 60_000;

interface HttpFailure {
  status: number;
  headers: HeaderReader;
  errorCode?: string;
  errorSummary?: string;
  errorId?: string;
}

function asHttpFailure(error: unknown): HttpFailure | null {
  if (typeof error !== 'object' || error === null) return null;
  const status = Number((error as { status?: unknown }).status);
  if (!Number.isInteger(status) || status < 100) return null;
  const { headers, errorCode, errorSummary, errorId } = error as Record<string, unknown>;
  return {
    status,
    headers: headerReader(headers),
    errorCode: typeof errorCode === 'string' ? errorCode : undefined,
    errorSummary: typeof errorSummary === 'string' && errorSummary ? errorSummary.slice(0, 200) : undefined,
    errorId: typeof errorId === 'string' ? errorId : undefined,
  };
}

/** The HTTP status of an SDK error, or null when no answer came. */
export function httpStatus(error: unknown): number | null {
  return asHttpFailure(error)?.status ?? null;
}

/**
 * Okta says how long a rate limit lasts in `X-Rate-Limit-Reset` (epoch seconds, when the
 * window reopens), not in Retry-After.
 */
export const OKTA_HTTP_FACTS: ProviderHttpFacts = {
  defaultRetryAfterMs: DEFAULT_RATE_LIMIT_DELAY_MS,
  rateLimitDelayMs: (headers, nowMs) => {
    const resetHeader = headers.get('x-rate-limit-reset');
    const reset = Number(resetHeader);
    if (!resetHeader || !Number.isFinite(reset) || reset <= 0) return null;
    return Math.max(0, reset * 1000 - nowMs);
  },
};

function isNetworkFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'FetchError' || error.name === 'AbortError' || error.name === 'TimeoutError') return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^(E[A-Z]+|UND_ERR)/.test(code);
}

/**
 * Converts anything an SDK call threw into a typed error. `operation` names the call
 * (`getUser`, `suspendUser`...) so the message says what failed without an id or URL.
 */
export function toOktaError(error: unknown, operation: string, nowMs: number): Error {
  const failure = asHttpFailure(error);
  if (!failure) {
    if (isNetworkFailure(error)) {
      const name = (error as Error).name;
      const code = (error as { code?: unknown }).code;
      return new TransientError(`Okta ${operation}: no answer (${typeof code === 'string' ? code : name})`);
    }
    // Not an HTTP or network failure: a bug of ours, surfaced as is.
    return error instanceof Error ? error : new Error(`Okta ${operation}: ${String(error)}`);
  }
  const code = failure.errorCode ? ` ${failure.errorCode}` : '';
  // Okta's summaries name the rule that refused ("Cannot suspend a user that is not active"); they never echo credentials.
  const summary = failure.errorSummary ? `: ${failure.errorSummary}` : '';
  const ref = failure.errorId ? ` (errorId ${failure.errorId})` : '';
  const message = `Okta ${operation}: HTTP ${failure.status}${code}${summary}${ref}`;
  return errorForStatus(failure, message, OKTA_HTTP_FACTS, nowMs);
}
