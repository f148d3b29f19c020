/**
 * One HTTP request of a fetch-based adapter: after the provider's throttle, with the
 * attempt's signal plus a per-request timeout, and a failure to get any answer turned into
 * a TransientError that says whether the provider was silent or the engine stopped it.
 */
import { deadlineSignal } from '../contract.ts';
import { errorForNetwork } from './errors.ts';

/** The provider's request rate limit and the lease fence (ProviderFactoryContext.throttle). */
export type Throttle = (signal?: AbortSignal) => Promise<void>;

export const noThrottle: Throttle = async () => undefined;

export interface FetchOnceOptions {
  method: string;
  headers: Record<string, string>;
  body?: string;
  /** The attempt's signal (shutdown, deadline, lost lease). */
  signal: AbortSignal;
  timeoutMs: number;
  throttle: Throttle;
  /** Names the call in the error when no answer came: `Brivo list users`. */
  summary: string;
  /**
   * API clients refuse a redirect (a redirect to another host would carry the token);
   * push receivers (webhooks, SET receivers) may have moved, and fetch drops the
   * Authorization header on a cross-origin redirect.
   */
  redirect?: 'error' | 'follow';
}

export async function fetchOnce(url: string, options: FetchOnceOptions): Promise<Response> {
  const { method, headers, body, signal, timeoutMs } = options;
  await options.throttle(signal);
  try {
    return await fetch(url, {
      method,
      headers,
      body,
      signal: AbortSignal.any([signal, requestTimeout(timeoutMs)]),
      redirect: options.redirect ?? 'error',
    });
  } catch (error) {
    throw errorForNetwork(error, options.summary, signal);
  }
}

/**
 * A signal that aborts after `ms` and survives garbage collection (see deadlineSignal). It
 * stays armed after the answer's headers so that reading the body is bounded too (aborting
 * a finished request does nothing).
 */
export function requestTimeout(ms: number): AbortSignal {
  return deadlineSignal(ms).signal;
}
