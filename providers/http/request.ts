/**
 * One HTTP request of a fetch-based adapter: after the provider's throttle, with the
 * attempt's signal plus a per-request timeout, and a failure to get any answer turned into
 * a TransientError that says whether the provider was silent or the engine stopped it.
 */
import { deadlineSignal, PermanentError } from '../contract.ts';
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
  /**
   * Largest answer body read, in bytes; a longer one is dropped unread past the bound and is
   * a PermanentError (a hostile or broken server must not exhaust memory). Default: no bound.
   */
  maxResponseBytes?: number;
}

/**
 * The answer comes back with its body already read, inside the per-request timeout; the
 * timer is then disarmed. A timer left armed for the whole timeout after each answer held
 * its controller and signal that long: under a mass termination, tens of thousands at once.
 */
export async function fetchOnce(url: string, options: FetchOnceOptions): Promise<Response> {
  const { method, headers, body, signal, timeoutMs } = options;
  await options.throttle(signal);
  const deadline = deadlineSignal(timeoutMs);
  try {
    const response = await fetch(url, {
      method,
      headers,
      body,
      signal: AbortSignal.any([signal, deadline.signal]),
      redirect: options.redirect ?? 'error',
    });
    const content = options.maxResponseBytes === undefined ? await response.arrayBuffer() : await readBounded(response, options);
    const { status, statusText } = response;
    // A Response for 204, 205 and 304 may not carry a body, not even an empty one.
    return new Response(status === 204 || status === 205 || status === 304 ? null : content, {
      status,
      statusText,
      headers: response.headers,
    });
  } catch (error) {
    if (error instanceof PermanentError) throw error;
    throw errorForNetwork(error, options.summary, signal);
  } finally {
    deadline.cancel();
  }
}

/** Reads the body chunk by chunk and stops at the bound, so an endless answer is never held whole. */
async function readBounded(response: Response, options: FetchOnceOptions): Promise<ArrayBuffer> {
  const limit = options.maxResponseBytes!;
  const declared = Number(response.headers.get('content-length'));
  const tooLarge = () => new PermanentError(`${options.summary}: the answer exceeds ${limit} bytes`);
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return new ArrayBuffer(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const whole = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return whole.buffer;
}
