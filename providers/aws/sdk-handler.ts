/**
 * The AWS SDK's request handler, replaced by one on our `fetchOnce` (providers/http/request.ts):
 * each request waits for the provider's throttle and the lease fence, carries the attempt's
 * signal plus a per-request timeout, goes out through fetch (whose connections the lease
 * fence also watches, src/startup/connection-fence.ts; the SDK's default NodeHttpHandler
 * opens sockets on agents of its own, which nothing fences), and a missing answer becomes a
 * TransientError. The SDK signs the request before it reaches here and parses what comes back.
 */
import { fetchOnce, type Throttle } from '../http/request.ts';

/** The parts of the SDK's HttpRequest this handler reads (`@smithy/types` HttpRequest). */
interface SdkRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/** What the SDK takes as an HTTP response: `HttpResponse.isInstance` checks these fields only. */
interface SdkResponse {
  statusCode: number;
  reason?: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Fetch sets these itself from the URL and the body; the values it sends are the ones the SDK signed. */
const SET_BY_FETCH = new Set(['host', 'content-length']);

function urlOf(request: SdkRequest): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(request.query ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) query.append(key, v ?? '');
  }
  const search = query.size > 0 ? `?${query.toString()}` : '';
  return `${request.protocol}//${request.hostname}${request.port ? `:${request.port}` : ''}${request.path}${search}`;
}

export interface FetchHandlerOptions {
  throttle: Throttle;
  timeoutMs: number;
  /** Names a request in a no-answer error: `AWS IAM request`. */
  summary: string;
}

/** An object the SDK accepts as `requestHandler` (it calls `handle`; the other two are its config hooks). */
export function fetchRequestHandler(options: FetchHandlerOptions) {
  return {
    async handle(request: SdkRequest, handlerOptions: { abortSignal?: AbortSignal } = {}): Promise<{ response: SdkResponse }> {
      const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !SET_BY_FETCH.has(name.toLowerCase())));
      const body =
        typeof request.body === 'string'
          ? request.body
          : request.body instanceof Uint8Array
            ? Buffer.from(request.body).toString()
            : undefined;
      const answer = await fetchOnce(urlOf(request), {
        method: request.method,
        headers,
        body,
        // Every call passes the attempt's signal; the SDK hands it over as `abortSignal`.
        signal: handlerOptions.abortSignal ?? new AbortController().signal,
        timeoutMs: options.timeoutMs,
        throttle: options.throttle,
        summary: options.summary,
      });
      return {
        response: {
          statusCode: answer.status,
          reason: answer.statusText,
          headers: Object.fromEntries(answer.headers.entries()),
          body: new Uint8Array(await answer.arrayBuffer()),
        },
      };
    },
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
  };
}
