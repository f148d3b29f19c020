/**
 * Provider answers turned into the engine's error vocabulary, once for every adapter.
 * Each provider hands over only its facts (`ProviderHttpFacts`: its default delay, its own
 * rate-limit signals); the status and headers decide, message text never does.
 */
import { DeprovisionError, PermanentError, RateLimitedError, TransientError } from '../contract.ts';
import { parseRetryAfterMs } from './retry-after.ts';

/** Fetch's Headers, node-fetch's (Okta SDK) and a header map read alike (`headerReader`). */
export interface HeaderReader {
  get(name: string): string | null;
}

/** A non-2xx answer as the mapper sees it, whatever client received it. */
export interface HttpAnswer {
  status: number;
  headers: HeaderReader;
  /** The JSON body, where a provider's rate-limit signal lives (Google's 403 reasons); else undefined. */
  body?: unknown;
}

/** What one provider's answers mean beyond the common rules of `errorForStatus`. */
export interface ProviderHttpFacts {
  /** Delay reported for a 429 that names none. */
  defaultRetryAfterMs: number;
  /**
   * The provider's own header for how long a rate limit lasts, read instead of Retry-After
   * (Okta's X-Rate-Limit-Reset); null when the answer has no usable one.
   */
  rateLimitDelayMs?: (headers: HeaderReader, nowMs: number) => number | null;
  /**
   * Answers other than 429 by which the provider says "over the limit" (Brivo's Mashery 403s,
   * Google's 403 quota reasons): the delay to report when the answer names none, else null.
   */
  otherRateLimit?: (answer: HttpAnswer) => number | null;
  /** 5xx statuses that are refusals a retry cannot cure (Mashery's 596: no such verb or path). */
  permanentStatuses?: readonly number[];
  /** What to say about a refusal from its headers and body (the provider's error code); '' for nothing. */
  describe?: (answer: HttpAnswer) => string;
}

/**
 * - 429, or the provider's other rate-limit answers -> RateLimitedError (the delay the answer
 *   names, else the provider's default for that limit);
 * - 503 with Retry-After -> RateLimitedError (a server asking for a pause);
 * - the provider's permanent 5xx -> PermanentError;
 * - other 5xx, 408, 503 without Retry-After -> TransientError;
 * - 401/403 and every other 4xx -> PermanentError (credentials, permissions, request).
 *
 * `message` names the call and the provider's error code; callers keep secrets out of it.
 */
export function errorForStatus(answer: HttpAnswer, message: string, facts: ProviderHttpFacts, nowMs: number): DeprovisionError {
  const { status, headers } = answer;
  const retryAfter = parseRetryAfterMs(headers.get('retry-after'), nowMs);
  const named = facts.rateLimitDelayMs ? facts.rateLimitDelayMs(headers, nowMs) : retryAfter;
  if (status === 429) return new RateLimitedError(message, named ?? facts.defaultRetryAfterMs);
  const otherDefault = facts.otherRateLimit?.(answer) ?? null;
  if (otherDefault !== null) return new RateLimitedError(message, named ?? otherDefault);
  if (status === 503 && retryAfter !== null) return new RateLimitedError(message, retryAfter);
  if (facts.permanentStatuses?.includes(status)) return new PermanentError(message);
  if (status >= 500 || status === 408) return new TransientError(message);
  return new PermanentError(message);
}

/** `Brivo list users: HTTP 403 ERR_403_DEVELOPER_INACTIVE`: the call, the status, the provider's code. */
export function refusalMessage(summary: string, answer: HttpAnswer, facts: ProviderHttpFacts): string {
  return `${summary}: HTTP ${answer.status}${facts.describe?.(answer) ?? ''}`;
}

/**
 * A request got no answer: DNS, refused connection, reset, the per-request timeout, or the
 * engine stopping the attempt (`signal`, the attempt's: shutdown, deadline, lost lease),
 * which is said as such rather than taken for the provider failing to answer. The original
 * error is not attached: undici's errors can carry the request, headers included.
 */
export function errorForNetwork(error: unknown, summary: string, signal?: AbortSignal): TransientError {
  // The lease fence at the connection (src/startup/connection-fence.ts) surfaces as fetch failing.
  const engine = engineErrorIn(error);
  if (engine instanceof TransientError) return engine;
  if (signal?.aborted) return new TransientError(`${summary}: stopped, the attempt was aborted (shutdown or its deadline)`);
  const name = error instanceof Error ? error.name : 'Error';
  const cause = error instanceof Error ? (error as { cause?: unknown }).cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return new TransientError(`${summary}: no answer (${name}${typeof code === 'string' ? ` ${code}` : ''})`);
}

/**
 * An engine error an SDK wrapped on its way out (gaxios wraps what its adapter hook throws,
 * such as the lease fence's error, in a GaxiosError with it as `cause`): found, it is the
 * answer as it is, never re-classified as a transport failure.
 */
export function engineErrorIn(error: unknown): DeprovisionError | null {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    if (current instanceof DeprovisionError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

/** Reads a plain header object (gaxios) or anything with `get` (Headers, node-fetch) by name. */
export function headerReader(headers: unknown): HeaderReader {
  if (typeof headers !== 'object' || headers === null) return { get: () => null };
  const getter = (headers as { get?: unknown }).get;
  if (typeof getter === 'function') {
    return {
      get: (name) => {
        const value: unknown = getter.call(headers, name);
        return typeof value === 'string' ? value : null;
      },
    };
  }
  return {
    get: (name) => {
      for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name && typeof value === 'string') return value;
      return null;
    },
  };
}
