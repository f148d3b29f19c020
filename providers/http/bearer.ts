/**
 * The request path of the fetch-based clients that carry an OAuth bearer token: one
 * request with the engine's signal plus a per-request timeout, and one more try with a
 * new token after a 401 on a cached token that can be renewed.
 */
import type { IssuedToken } from './cached-token.ts';

export interface BearerTokens {
  get(signal: AbortSignal): Promise<IssuedToken>;
  /** The target refused the token (401): forget it so the next call fetches another. */
  invalidate(generation: number): void;
  /** False for a static token: a 401 cannot be cured by asking again. */
  readonly renewable: boolean;
}

export interface BearerAnswer {
  status: number;
  /** The body as JSON; null when empty, on 204, or when it is not JSON. */
  body: unknown;
}

export interface BearerRequestOptions {
  /** Non-2xx statuses that are answers, not failures (404 where "gone" is the success state). */
  allowed: readonly number[];
  /** The typed error for any other answer, from its status, headers and JSON body. */
  refused: (response: Response, body: unknown) => Error;
}

/**
 * Sends `attempt` with a token from `tokens`; when the answer is 401, the token came from
 * the cache and can be renewed (expired or revoked), forgets it and sends once more with
 * a new one. A final 401 forgets the token it was given to. Only for idempotent
 * requests: the request may be sent twice.
 */
export async function sendWithBearer(
  tokens: BearerTokens,
  signal: AbortSignal,
  attempt: (token: string) => Promise<Response>,
  options: BearerRequestOptions,
): Promise<BearerAnswer> {
  let token = await tokens.get(signal);
  let response = await attempt(token.value);
  if (response.status === 401 && tokens.renewable && !token.fresh) {
    await response.body?.cancel();
    tokens.invalidate(token.generation);
    token = await tokens.get(signal);
    response = await attempt(token.value);
  }
  const body = await readJsonBody(response);
  if (response.ok || options.allowed.includes(response.status)) return { status: response.status, body };
  if (response.status === 401) tokens.invalidate(token.generation);
  throw options.refused(response, body);
}

async function readJsonBody(response: Response): Promise<unknown> {
  if (response.status === 204) return null;
  const text = await response.text().catch(() => '');
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

export interface FetchOnceOptions {
  method: string;
  headers: Record<string, string>;
  /** Sent as JSON when defined. */
  body: unknown;
  signal: AbortSignal;
  timeoutMs: number;
  /** The provider's request rate limit, waited for before sending. */
  throttle: (signal?: AbortSignal) => Promise<void>;
  /** What a fetch that got no answer throws (DNS, refused, reset, abort, timeout). */
  networkError: (error: unknown) => Error;
}

/** One request: after the throttle, with the signal plus a timeout, never following a redirect. */
export async function fetchOnce(url: string, options: FetchOnceOptions): Promise<Response> {
  const { method, headers, body, signal, timeoutMs } = options;
  await options.throttle(signal);
  try {
    return await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      redirect: 'error',
    });
  } catch (error) {
    throw options.networkError(error);
  }
}
