/**
 * Maps Admin SDK failures (GaxiosError) to the engine's error vocabulary. Decisions use
 * the HTTP status and Google's machine-readable reasons, never message text. The
 * GaxiosError is not kept as `cause`: its `config` holds the request headers, bearer
 * token included, and a cause is what loggers serialise.
 */
import { TransientError, type DeprovisionError } from '../contract.ts';
import { engineErrorIn, errorForStatus, headerReader, type HeaderReader, type ProviderHttpFacts } from '../http/errors.ts';

/**
 * Reasons Google gives when a quota is exhausted. Directory answers them with 403 (not
 * 429), in `error.errors[].reason`; newer endpoints put `RESOURCE_EXHAUSTED` in
 * `error.status` or `RATE_LIMIT_EXCEEDED` in an ErrorInfo detail.
 */
const RATE_LIMIT_REASONS = new Set([
  'userratelimitexceeded',
  'ratelimitexceeded',
  'quotaexceeded',
  'resource_exhausted',
  'rate_limit_exceeded',
]);

export interface GoogleFailure {
  /** HTTP status, or null when no answer came (network, timeout, abort). */
  status: number | null;
  /** Google's reasons (`errors[].reason`, `status`, ErrorInfo `reason`), as sent. */
  reasons: string[];
  /** Google's own message, shortened; never request data. */
  message: string;
  headers: HeaderReader;
  /** The answer's body as gaxios parsed it, for the shared mapper; never put in a message. */
  body: unknown;
}

type Bag = Record<string, unknown>;
const isBag = (v: unknown): v is Bag => typeof v === 'object' && v !== null;

/** Reads what we may safely repeat from a thrown SDK error. */
export function describeFailure(error: unknown): GoogleFailure {
  const bag: Bag = isBag(error) ? error : {};
  const response = isBag(bag.response) ? bag.response : null;
  const statusValue = response?.status ?? bag.status;
  const status = typeof statusValue === 'number' ? statusValue : null;
  const data = response?.data;
  const body = isBag(data) ? data.error : undefined;
  let message = '';
  if (isBag(body) && typeof body.message === 'string') message = body.message;
  // OAuth token endpoint: `{ error: 'unauthorized_client', error_description }`.
  else if (typeof body === 'string' && isBag(data) && typeof data.error_description === 'string') message = data.error_description;
  if (status === null) {
    if ('config' in bag) {
      // A transport failure (GaxiosError without an answer): name it by its code only,
      // its message may carry the request URL.
      message = typeof bag.code === 'string' ? bag.code : typeof bag.name === 'string' ? bag.name : 'network error';
    } else {
      // Not a request at all (e.g. the SDK refusing missing parameters): no request data in it.
      message = error instanceof Error ? error.message : String(error);
    }
  }
  return {
    status,
    reasons: reasonsIn(data),
    message: message.replace(/\s+/g, ' ').slice(0, 300),
    headers: headerReader(response?.headers),
    body: data,
  };
}

/** Google's reasons in an error body (`errors[].reason`, `status`, ErrorInfo `reason`, an OAuth `error`), as sent. */
function reasonsIn(data: unknown): string[] {
  const body = isBag(data) ? data.error : undefined;
  if (typeof body === 'string') return [body];
  if (!isBag(body)) return [];
  const reasons = typeof body.status === 'string' ? [body.status] : [];
  for (const list of [body.errors, body.details]) {
    if (!Array.isArray(list)) continue;
    for (const item of list) if (isBag(item) && typeof item.reason === 'string') reasons.push(item.reason);
  }
  return reasons;
}

export function httpStatus(error: unknown): number | null {
  return describeFailure(error).status;
}

export function isNotFound(error: unknown): boolean {
  return httpStatus(error) === 404;
}

/**
 * Google's facts for the shared mapper: a 403 with a quota reason in its body is a rate
 * limit like a 429, and both wait the instance's `rateLimitDelayMs` when no Retry-After
 * says how long.
 */
function googleHttpFacts(rateLimitDelayMs: number): ProviderHttpFacts {
  return {
    defaultRetryAfterMs: rateLimitDelayMs,
    otherRateLimit: ({ status, body }) =>
      status === 403 && reasonsIn(body).some((r) => RATE_LIMIT_REASONS.has(r.toLowerCase())) ? rateLimitDelayMs : null,
  };
}

/**
 * The engine's error for a failed call. `operation` names the SDK method (e.g.
 * `users.update`) so the message says what failed without any request data.
 */
export function toProviderError(error: unknown, operation: string, options: { rateLimitDelayMs: number }): DeprovisionError {
  const engine = engineErrorIn(error);
  if (engine) return engine;
  const failure = describeFailure(error);
  const what = `google ${operation}: ${failure.status === null ? 'no answer' : `HTTP ${failure.status}`}`;
  const detail = [failure.reasons.join(','), failure.message].filter(Boolean).join(': ');
  const message = detail ? `${what} (${detail})` : what;
  if (failure.status === null) return new TransientError(message);
  // 401 (credentials), other 403s (missing scope or delegation), 400, 404, 409: permanent.
  const answer = { status: failure.status, headers: failure.headers, body: failure.body };
  return errorForStatus(answer, message, googleHttpFacts(options.rateLimitDelayMs), Date.now());
}
